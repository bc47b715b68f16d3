import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { type CodeTokens, exchangeCode, issueCode, REDIRECT } from '../../test/support/authorization-code'
import { GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { type BrowserLogin, browserLogin, sameOrigin } from '../../test/support/sessions'
import { sha256Hex } from '../crypto/bytes'
import { insertClient } from './client-store'

// GET/POST /auth/end-session with a browser session: who may end it, and where the browser goes.

const AFTER = 'https://app.example/signed-out'

async function idTokenFor(userId: string): Promise<string> {
  const response = await exchangeCode('esb-app', await issueCode('esb-app', userId, { scopes: ['openid'] }))
  return ((await response.json()) as CodeTokens).id_token as string
}

function endSession(query: Record<string, string>, login?: BrowserLogin): Promise<Response> {
  return gatewayFetch(`/auth/end-session?${new URLSearchParams(query)}`, {
    redirect: 'manual',
    headers: { accept: 'text/html', ...(login ? { cookie: login.cookie } : {}) },
  })
}

async function sessionEnded(login: BrowserLogin): Promise<boolean> {
  const row = await env.DB.prepare('SELECT ended_at FROM sessions WHERE token_hash = ?1')
    .bind(await sha256Hex(login.session))
    .first<{ ended_at: number | null }>()
  return row?.ended_at !== null && row?.ended_at !== undefined
}

function hiddenFields(html: string): URLSearchParams {
  const fields = new URLSearchParams()
  for (const match of html.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g))
    fields.set(match[1] as string, (match[2] as string).replace(/&amp;/g, '&'))
  return fields
}

function confirm(login: BrowserLogin, fields: URLSearchParams, headers: Record<string, string> = {}) {
  return gatewayFetch('/auth/end-session', {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      ...sameOrigin(login),
      ...headers,
    },
    body: fields,
  })
}

let aliceId: string
let bobId: string

beforeAll(async () => {
  await insertClient(env.DB, {
    clientId: 'esb-app',
    name: 'Sign-out app',
    grantTypes: ['authorization_code'],
    scopes: ['openid'],
    roles: [],
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [AFTER],
  })
  aliceId = (await createUser('esb-alice')).id
  bobId = (await createUser('esb-bob')).id
})

describe('RP-initiated logout with a browser session', () => {
  it("ends the session when the hint names its user, clears the cookies, and goes to the app's page with state", async () => {
    const login = await browserLogin('esb-alice')
    const response = await endSession(
      { id_token_hint: await idTokenFor(aliceId), post_logout_redirect_uri: AFTER, state: 'bye' },
      login,
    )
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`${AFTER}?state=bye`)
    expect(response.headers.getAll('set-cookie').join('\n')).toMatch(/gw_session=;/)
    expect(await sessionEnded(login)).toBe(true)
  })

  it('refuses an unregistered post_logout_redirect_uri on its own page (400, no redirect) and keeps the session', async () => {
    const login = await browserLogin('esb-alice')
    const response = await endSession(
      { id_token_hint: await idTokenFor(aliceId), post_logout_redirect_uri: 'https://evil.example/' },
      login,
    )
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    expect(await sessionEnded(login)).toBe(false)
  })

  it("does not end this session for a hint naming another user (someone else's ID token): it asks", async () => {
    const login = await browserLogin('esb-alice')
    const response = await endSession({ id_token_hint: await idTokenFor(bobId) }, login)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('Sign out?')
    expect(await sessionEnded(login)).toBe(false)
  })

  it('asks for confirmation on a GET without a hint, and the confirmed POST ends the session', async () => {
    const login = await browserLogin('esb-alice')
    const page = await endSession(
      { client_id: 'esb-app', post_logout_redirect_uri: AFTER, state: 's2' },
      login,
    )
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('esb-alice')
    expect(await sessionEnded(login)).toBe(false)

    const fields = hiddenFields(html)
    expect(fields.get('csrf')).toBe(login.csrf)
    const response = await confirm(login, fields)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`${AFTER}?state=s2`)
    expect(await sessionEnded(login)).toBe(true)
  })

  it.each([
    ['without the form token', (fields: URLSearchParams) => fields.delete('csrf'), {}],
    ['from a cross-site page', () => undefined, { 'sec-fetch-site': 'cross-site' }],
  ])('refuses a confirmation POST %s (403) and keeps the session', async (_, change, headers) => {
    const login = await browserLogin('esb-alice')
    const fields = hiddenFields(await (await endSession({}, login)).text())
    change(fields)
    const response = await confirm(login, fields, headers)
    expect(response.status).toBe(403)
    expect(await sessionEnded(login)).toBe(false)
  })

  it('without a session goes straight to the login page (nothing to end)', async () => {
    const response = await endSession({})
    expect(response.status).toBe(303)
    expect(new URL(response.headers.get('location') ?? '', GATEWAY).pathname).toBe('/auth/login')
  })
})
