import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { callApi, createUser } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  pkcePair,
  REDIRECT,
} from '../../test/support/authorization-code'
import { GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { type BrowserLogin, browserLogin, sameOrigin } from '../../test/support/sessions'
import { sha256Hex } from '../crypto/bytes'

// /auth/authorize as a browser meets it: the session cookie, the login redirect and back, the
// consent page and its CSRF-protected form, and the answers that go back to the app.

interface Started {
  path: string
  verifier: string
}

async function authorizePath(clientId: string, extra: Record<string, string> = {}): Promise<Started> {
  const { verifier, challenge } = await pkcePair()
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: 'st-browser',
    nonce: 'n-browser',
    ...extra,
  })
  return { path: `/auth/authorize?${query}`, verifier }
}

function open(path: string, login?: BrowserLogin): Promise<Response> {
  return gatewayFetch(path, {
    redirect: 'manual',
    headers: { accept: 'text/html', ...(login ? { cookie: login.cookie } : {}) },
  })
}

/** The app's view of a redirect back to it: the query of the Location, checked to be REDIRECT. */
function atApp(response: Response): URLSearchParams {
  expect([302, 303]).toContain(response.status)
  const url = new URL(response.headers.get('location') ?? '')
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT)
  return url.searchParams
}

/** The login page's return_to of a redirect to it. */
function returnToOf(response: Response): string {
  expect(response.status).toBe(302)
  const url = new URL(response.headers.get('location') ?? '', GATEWAY)
  expect(url.pathname).toBe('/auth/login')
  return url.searchParams.get('return_to') ?? ''
}

/** A return_to split into its `login_after` (unix seconds) and the rest of the authorize URL. */
function loginAfterOf(returnTo: string): { loginAfter: number; rest: string } {
  const url = new URL(returnTo, GATEWAY)
  const loginAfter = Number(url.searchParams.get('login_after'))
  url.searchParams.delete('login_after')
  return { loginAfter, rest: `${url.pathname}${url.search}` }
}

function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  return (match?.[1] ?? '').replace(/&amp;/g, '&')
}

function consentPost(
  login: BrowserLogin,
  html: string,
  decision: 'allow' | 'deny',
  options: { csrf?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const form = new URLSearchParams({ authorization_query: hidden(html, 'authorization_query'), decision })
  const csrf = options.csrf === undefined ? hidden(html, 'csrf') : options.csrf
  if (csrf !== null) form.set('csrf', csrf)
  return gatewayFetch('/auth/authorize', {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      ...sameOrigin(login),
      ...options.headers,
    },
    body: form,
  })
}

async function codesOf(clientId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM authorization_codes WHERE client_id = ?1')
    .bind(clientId)
    .first<{ n: number }>()
  return row?.n ?? 0
}

/** Moves the session's sign-in time back, as if the user had signed in `seconds` ago. */
async function signedInAgo(login: BrowserLogin, seconds: number): Promise<void> {
  await env.DB.prepare('UPDATE sessions SET auth_time = auth_time - ?2 WHERE token_hash = ?1')
    .bind(await sha256Hex(login.session), seconds)
    .run()
}

async function consentPage(clientId: string, login: BrowserLogin, extra: Record<string, string> = {}) {
  const started = await authorizePath(clientId, extra)
  const response = await open(started.path, login)
  expect(response.status).toBe(200)
  return { ...started, html: await response.text() }
}

describe('GET /auth/authorize without a session', () => {
  it('sends the browser to the login page and back (return_to), with login_hint prefilling the form', async () => {
    await createCodeClient('br-login')
    await createUser('br-login-user')
    const started = await authorizePath('br-login', { login_hint: 'br-login-user' })
    const first = await open(started.path)
    const returnTo = returnToOf(first)
    expect(returnTo).toMatch(/^\/auth\/authorize\?.*client_id=br-login/)
    const loginResponse = await open(first.headers.get('location') ?? '')
    expect(await loginResponse.text()).toContain('value="br-login-user"')
    // Chromium applies form-action to the redirects after the login form: "→ authorize → app".
    expect(loginResponse.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://app.example;",
    )

    const login = await browserLogin('br-login-user', { returnTo })
    expect(login.response.status).toBe(303)
    expect(login.response.headers.get('location')).toBe(returnTo)
    const back = await open(returnTo, login)
    expect(back.status).toBe(200)
    expect(await back.text()).toContain('App br-login')
  })

  it('answers prompt=none with login_required, state and iss at the redirect URI', async () => {
    await createCodeClient('br-silent')
    const response = await open((await authorizePath('br-silent', { prompt: 'none' })).path)
    expect(Object.fromEntries(atApp(response))).toEqual({
      error: 'login_required',
      state: 'st-browser',
      iss: GATEWAY,
    })
  })

  it('shows an unregistered redirect_uri an HTML error page (400), no redirect, no code', async () => {
    await createCodeClient('br-phish')
    const started = await authorizePath('br-phish', { redirect_uri: 'https://evil.example/callback' })
    const response = await open(started.path)
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await response.text()).toContain('not registered')
  })
})

describe('the consent page', () => {
  it('names the app, the scopes in words and the account, and carries a CSRF token', async () => {
    await createCodeClient('br-consent')
    await createUser('br-consent-user')
    const login = await browserLogin('br-consent-user')
    const { html } = await consentPage('br-consent', login)
    expect(html).toContain('Allow App br-consent to use your account?')
    expect(html).toContain('Know who you are')
    expect(html).toContain('Read data through the API as you')
    expect(html).toContain('br-consent-user')
    expect(hidden(html, 'csrf')).toBe(login.csrf)
    expect(await codesOf('br-consent')).toBe(0)
  })

  it("lets the consent form lead only to our origin and the request's registered redirect URI (CSP form-action)", async () => {
    await createCodeClient('br-csp')
    await createUser('br-csp-user')
    const login = await browserLogin('br-csp-user')
    const response = await open((await authorizePath('br-csp')).path, login)
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("form-action 'self' https://app.example;")
    expect(csp).toContain("frame-ancestors 'none'")
    // A login page whose return_to names an unregistered redirect URI lists nothing extra.
    const phished = await authorizePath('br-csp', { redirect_uri: 'https://evil.example/cb' })
    const loginPage = await open(`/auth/login?return_to=${encodeURIComponent(phished.path)}`)
    expect(loginPage.headers.get('content-security-policy')).toContain("form-action 'self';")
  })

  it('Allow sends a code (state, iss) that the app redeems for tokens opening /api', async () => {
    await createCodeClient('br-allow')
    await createUser('br-allow-user')
    const login = await browserLogin('br-allow-user')
    const page = await consentPage('br-allow', login)
    const answer = atApp(await consentPost(login, page.html, 'allow'))
    expect(answer.get('state')).toBe('st-browser')
    expect(answer.get('iss')).toBe(GATEWAY)
    const response = await exchangeCode('br-allow', {
      code: answer.get('code') ?? '',
      verifier: page.verifier,
    })
    expect(response.status).toBe(200)
    const tokens = (await response.json()) as CodeTokens
    expect(await callApi(tokens.access_token)).toEqual({ status: 200, forwarded: 1 })
    // The audit log names who allowed which app.
    const userId = (
      await env.DB.prepare("SELECT id FROM users WHERE username = 'br-allow-user'").first<{ id: string }>()
    )?.id
    for (const type of ['consent_granted', 'authorization_granted'] as const)
      expect(
        await waitForAudit((e) => e.type === type && e.client_id === 'br-allow' && e.subject_id === userId),
      ).toMatchObject({ outcome: 'success', actor_id: userId })
  })

  it('Deny sends access_denied with state and iss, and no code', async () => {
    await createCodeClient('br-deny')
    await createUser('br-deny-user')
    const login = await browserLogin('br-deny-user')
    const page = await consentPage('br-deny', login)
    expect(Object.fromEntries(atApp(await consentPost(login, page.html, 'deny')))).toMatchObject({
      error: 'access_denied',
      state: 'st-browser',
      iss: GATEWAY,
    })
    expect(await codesOf('br-deny')).toBe(0)
    expect(
      await waitForAudit((e) => e.type === 'authorization_denied' && e.client_id === 'br-deny'),
    ).toMatchObject({ outcome: 'failure', details: { error: 'access_denied' } })
  })

  it('remembers the grant: the next authorization skips the page and answers with a code', async () => {
    await createCodeClient('br-remember')
    await createUser('br-remember-user')
    const login = await browserLogin('br-remember-user')
    const page = await consentPage('br-remember', login)
    atApp(await consentPost(login, page.html, 'allow'))
    const again = await open((await authorizePath('br-remember')).path, login)
    expect(atApp(again).get('code')).toMatch(/^ac_/)
    // A wider scope set is asked again.
    const wider = await open(
      (await authorizePath('br-remember', { scope: 'openid read profile' })).path,
      login,
    )
    expect(wider.status).toBe(200)
  })

  it('asks nothing of a skip_consent (first-party) client', async () => {
    await createCodeClient('br-first-party')
    await env.DB.prepare("UPDATE oauth_clients SET first_party = 1 WHERE client_id = 'br-first-party'").run()
    await createUser('br-first-party-user')
    const login = await browserLogin('br-first-party-user')
    expect(atApp(await open((await authorizePath('br-first-party')).path, login)).get('code')).toMatch(/^ac_/)
  })

  it('answers prompt=none for a signed-in user without a grant with consent_required', async () => {
    await createCodeClient('br-silent-consent')
    await createUser('br-silent-consent-user')
    const login = await browserLogin('br-silent-consent-user')
    const response = await open((await authorizePath('br-silent-consent', { prompt: 'none' })).path, login)
    expect(atApp(response).get('error')).toBe('consent_required')
  })
})

describe('consent CSRF: another site cannot approve for the user', () => {
  it.each([
    ['without the form token', { csrf: null }],
    ['with a wrong form token', { csrf: 'A'.repeat(43) }],
    [
      'from a cross-site page (Sec-Fetch-Site: cross-site) with the token',
      { headers: { 'sec-fetch-site': 'cross-site' } },
    ],
    [
      'from a foreign Origin without Fetch Metadata, with the token',
      { headers: { 'sec-fetch-site': '', origin: 'https://evil.example' } },
    ],
  ] as const)('refuses a post %s with 403 and issues no code', async (_, options) => {
    const clientId = `br-csrf-${Math.random().toString(36).slice(2, 8)}`
    await createCodeClient(clientId)
    await createUser(`${clientId}-user`)
    const login = await browserLogin(`${clientId}-user`)
    const page = await consentPage(clientId, login)
    const response = await consentPost(login, page.html, 'allow', options)
    expect(response.status).toBe(403)
    expect(response.headers.get('location')).toBeNull()
    expect(await codesOf(clientId)).toBe(0)
    const grants = await env.DB.prepare('SELECT COUNT(*) AS n FROM consent_grants WHERE client_id = ?1')
      .bind(clientId)
      .first<{ n: number }>()
    expect(grants?.n).toBe(0)
  })

  it.each([
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/callback' }, 'page'],
    ['a scope the user does not hold', { scope: 'openid write' }, 'invalid_scope'],
  ] as const)('re-validates a tampered form (%s): no code', async (_, change, expected) => {
    const clientId = `br-tamper-${Math.random().toString(36).slice(2, 8)}`
    await createCodeClient(clientId)
    await createUser(`${clientId}-user`)
    const login = await browserLogin(`${clientId}-user`)
    const page = await consentPage(clientId, login)
    const query = new URLSearchParams(hidden(page.html, 'authorization_query'))
    for (const [name, value] of Object.entries(change)) query.set(name, value)
    const tampered = page.html.replace(
      /name="authorization_query" value="[^"]*"/,
      `name="authorization_query" value="${query.toString().replace(/&/g, '&amp;')}"`,
    )
    const response = await consentPost(login, tampered, 'allow')
    if (expected === 'page') {
      expect(response.status).toBe(400)
      expect(response.headers.get('location')).toBeNull()
    } else expect(atApp(response).get('error')).toBe(expected)
    expect(await codesOf(clientId)).toBe(0)
  })

  it("refuses another session's token (the token is bound to the session cookie)", async () => {
    await createCodeClient('br-csrf-swap')
    await createUser('br-csrf-victim')
    await createUser('br-csrf-attacker')
    const victim = await browserLogin('br-csrf-victim')
    const attacker = await browserLogin('br-csrf-attacker')
    const page = await consentPage('br-csrf-swap', victim)
    const response = await consentPost(victim, page.html, 'allow', { csrf: attacker.csrf })
    expect(response.status).toBe(403)
    expect(await codesOf('br-csrf-swap')).toBe(0)
  })
})

describe('re-authentication: prompt=login and max_age', () => {
  it('prompt=login sends a signed-in user to the login page; the old session does not satisfy it', async () => {
    await createCodeClient('br-prompt-login')
    await createUser('br-prompt-login-user')
    const old = await browserLogin('br-prompt-login-user')
    await signedInAgo(old, 100)
    const started = await authorizePath('br-prompt-login', { prompt: 'login' })
    const returnTo = returnToOf(await open(started.path, old))
    expect(returnTo).not.toMatch(/prompt=login/)
    // Following return_to with the old session (no new sign-in) goes to the login page again, for the
    // same request. login_after is stamped anew there: the same second, or a later one when the
    // clock has ticked in between (a loaded machine), never an earlier one.
    const again = loginAfterOf(returnToOf(await open(returnTo, old)))
    expect(again.rest).toBe(loginAfterOf(returnTo).rest)
    expect(again.loginAfter).toBeGreaterThanOrEqual(loginAfterOf(returnTo).loginAfter)
    const fresh = await browserLogin('br-prompt-login-user', { cookie: old.cookie, returnTo })
    const consent = await open(returnTo, fresh)
    expect(consent.status).toBe(200)
    const answer = atApp(await consentPost(fresh, await consent.text(), 'allow'))
    const tokens = (await (
      await exchangeCode('br-prompt-login', { code: answer.get('code') ?? '', verifier: started.verifier })
    ).json()) as CodeTokens
    const idClaims = JSON.parse(atob((tokens.id_token ?? '').split('.')[1] ?? '')) as { auth_time: number }
    const requestedAt = Number(new URLSearchParams(returnTo.split('?')[1]).get('login_after'))
    expect(idClaims.auth_time).toBeGreaterThanOrEqual(requestedAt)
  })

  it('max_age sends a user who signed in too long ago to the login page, and accepts a recent sign-in', async () => {
    await createCodeClient('br-max-age')
    await createUser('br-max-age-user')
    const login = await browserLogin('br-max-age-user')
    await signedInAgo(login, 120)
    returnToOf(await open((await authorizePath('br-max-age', { max_age: '60' })).path, login))
    expect((await open((await authorizePath('br-max-age', { max_age: '3600' })).path, login)).status).toBe(
      200,
    )
  })
})
