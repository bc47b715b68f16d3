/**
 * The account home (issue 22, item 4): GET /auth/account for the browser session only, the landing
 * page of a sign-in without return_to (password form and login provider), and its form that
 * withdraws an app's access with the session's CSRF token.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { createApiKey } from '../../test/support/api-keys'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { gatewayFetch } from '../../test/support/gateway'
import {
  atGithub,
  gatewayGet,
  githubConfig,
  githubUser,
  newBrowser,
  startLogin,
} from '../../test/support/login-providers'
import { type BrowserLogin, browserLogin, sameOrigin } from '../../test/support/sessions'
import { recordGrant } from '../oauth/consent'

const HTML = { accept: 'text/html' }

function accountPage(headers: Record<string, string>): Promise<Response> {
  return gatewayFetch('/auth/account', { redirect: 'manual', headers })
}

/** A delegated (app) token of a fresh public client for `userId`, with its consent recorded. */
async function appToken(clientId: string, userId: string): Promise<string> {
  await createCodeClient(clientId)
  await recordGrant(env.DB, { userId, clientId, scopes: ['openid', 'read'], roles: ['user'] })
  const response = await exchangeCode(
    clientId,
    await issueCode(clientId, userId, { scopes: ['openid', 'read'] }),
  )
  expect(response.status).toBe(200)
  return ((await response.json()) as CodeTokens).access_token
}

function grantCount(userId: string, clientId: string): Promise<number | undefined> {
  return env.DB.prepare('SELECT COUNT(*) AS n FROM consent_grants WHERE user_id = ?1 AND client_id = ?2')
    .bind(userId, clientId)
    .first<number>('n')
    .then((n) => n ?? undefined)
}

function revokeForm(
  browser: BrowserLogin,
  clientId: string,
  csrf: string | undefined,
  headers = sameOrigin(browser),
) {
  return gatewayFetch(`/auth/account/grants/${clientId}/revoke`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(csrf === undefined ? {} : { csrf }),
  })
}

describe('GET /auth/account: who may see it', () => {
  it('sends a browser without a session to the login page with return_to=/auth/account', async () => {
    const response = await accountPage(HTML)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Faccount')
  })

  it('answers 401 JSON to a request without a session that did not ask for a page', async () => {
    const response = await accountPage({ accept: 'application/json' })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_token' })
  })

  it("does not take the user's own bearer token alone (the JSON endpoints are the token's): login redirect or 401", async () => {
    await createUser('acct-bearer')
    const tokens = await login('acct-bearer')
    const page = await accountPage({ ...bearer(tokens.access_token), ...HTML })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Faccount')
    const api = await accountPage({ ...bearer(tokens.access_token), accept: 'application/json' })
    expect(api.status).toBe(401)
    expect(await api.text()).not.toContain('acct-bearer')
  })

  it("refuses an app's delegated token: the page never renders for it", async () => {
    const user = await createUser('acct-delegated')
    const token = await appToken('acct-delegated-app', user.id)
    const response = await accountPage({ ...bearer(token), accept: 'application/json' })
    expect(response.status).toBe(401)
    expect(await response.text()).not.toContain('acct-delegated')
  })
})

describe('GET /auth/account: the page', () => {
  it('shows the user, roles, how and when this session signed in, the links and the sign-out forms', async () => {
    await createUser('acct-page', ['editor', 'user'])
    const before = Math.floor(Date.now() / 1000)
    const browser = await browserLogin('acct-page')
    const response = await accountPage({ cookie: browser.cookie, ...HTML })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const html = await response.text()
    expect(html).toContain('Signed in as acct-page')
    expect(html).toMatch(/Roles<\/th><td>editor, user</)
    expect(html).toContain('Signed in with a password at <time datetime="')
    const signedInAt = Date.parse(/<time datetime="([^"]+)"/.exec(html)?.[1] ?? '') / 1000
    expect(signedInAt).toBeGreaterThanOrEqual(before)
    for (const href of ['/auth/sessions', '/auth/identities']) expect(html).toContain(`href="${href}"`)
    expect(html).toContain('action="/auth/logout"')
    expect(html).toContain('action="/auth/logout-all"')
    expect(html).toContain('No app has access to your account.')
    expect(html).toContain('You have no active API key.')
    expect(html).not.toMatch(/<script|style=/)
  })

  it("lists the user's live API keys by name, never the key itself", async () => {
    await createUser('acct-keys')
    const key = await createApiKey((await login('acct-keys')).access_token, {
      name: 'ci deploy',
      scopes: ['read'],
    })
    const browser = await browserLogin('acct-keys')
    const html = await (await accountPage({ cookie: browser.cookie, ...HTML })).text()
    expect(html).toContain('<td>ci deploy</td>')
    expect(html).not.toContain(key.key)
    expect(html).not.toContain('You have no active API key.')
  })
})

describe('landing after sign-in without return_to', () => {
  it('the bare login form carries the account home as return_to, and a POST without one lands there', async () => {
    await createUser('acct-land')
    const html = await (await gatewayFetch('/auth/login')).text()
    expect(html).toContain('name="return_to" value="/auth/account"')
    const browser = await browserLogin('acct-land', { returnTo: null })
    expect(browser.response.status).toBe(303)
    expect(browser.response.headers.get('location')).toBe('/auth/account')
    const page = await accountPage({ cookie: browser.cookie, ...HTML })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Signed in as acct-land')
  })

  it('an off-site return_to does not: it becomes / as CONTRACT.md says, never the off-site target', async () => {
    await createUser('acct-land-evil')
    const browser = await browserLogin('acct-land-evil', { returnTo: '//evil.example/' })
    expect(browser.response.headers.get('location')).toBe('/')
  })

  it('a login-provider sign-in without return_to lands there and the page names the provider', async () => {
    const who = { id: 70_000 + Math.floor(Math.random() * 10_000), login: `acct-octo-${Date.now()}` }
    await githubUser({ ...who, email: `${who.login}@example.com` })
    const browser = newBrowser([githubConfig('gh')])
    const callback = await atGithub(await startLogin(browser, 'gh', ''), who.login)
    const response = await gatewayGet(browser, callback)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/account')
    const page = await gatewayGet(browser, '/auth/account')
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain(`Signed in as ${who.login}`)
    expect(html).toContain('Signed in with Test GitHub at')
  })
})

describe('withdrawing an app from the account page', () => {
  it("lists the app with a form carrying the session's CSRF token; the form withdraws the grant", async () => {
    const user = await createUser('acct-grant')
    await appToken('acct-grant-app', user.id)
    const browser = await browserLogin('acct-grant')
    const html = await (await accountPage({ cookie: browser.cookie, ...HTML })).text()
    expect(html).toContain('App acct-grant-app')
    expect(html).toContain('action="/auth/account/grants/acct-grant-app/revoke"')
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1]
    expect(csrf).toBe(browser.csrf)
    const response = await revokeForm(browser, 'acct-grant-app', csrf)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/account')
    expect(await grantCount(user.id, 'acct-grant-app')).toBe(0)
    const after = await (await accountPage({ cookie: browser.cookie, ...HTML })).text()
    expect(after).toContain('No app has access to your account.')
    // Gone: the same form again is a 404 page.
    expect((await revokeForm(browser, 'acct-grant-app', csrf)).status).toBe(404)
  })

  it.each([
    ['without the form token (same-origin only)', (b: BrowserLogin) => [undefined, sameOrigin(b)] as const],
    ['with a wrong form token', (b: BrowserLogin) => [`${b.csrf.slice(0, -2)}AA`, sameOrigin(b)] as const],
    [
      'from another site, token and all',
      (b: BrowserLogin) =>
        [
          b.csrf,
          { cookie: b.cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
        ] as const,
    ],
  ])('refuses the form %s (403) and the grant stays', async (_name, build) => {
    const user = await createUser(`acct-grant-x-${Math.random().toString(36).slice(2, 8)}`)
    await appToken(`app-${user.username}`, user.id)
    const browser = await browserLogin(user.username)
    const [csrf, headers] = build(browser)
    const response = await revokeForm(browser, `app-${user.username}`, csrf, { ...headers })
    expect(response.status).toBe(403)
    expect(await grantCount(user.id, `app-${user.username}`)).toBe(1)
  })
})
