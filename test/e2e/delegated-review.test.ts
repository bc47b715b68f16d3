/**
 * Issue 19, "Delegated tokens carry only what the user granted", replayed the way the outside
 * review found the hole: the real gateway (`npm start` with its demo upstream), a public app
 * `thirdparty` registered with scope openid only, an admin who signs in and clicks Allow in real
 * Chromium, and the app redeeming the code with a stock client library (oauth4webapi, PKCE). Then
 * every call the review made with the app's token, each checked by what it changed: the status and
 * error, what the upstream received, what storage holds afterwards, the audit log. Also what a
 * delegated token keeps, the same for a plain user, an app allowed one role, and the first-party
 * credentials that must keep working.
 *
 * Time budget: ~12 s on a 2-core machine, ~15 s more if it is the first file to ask for the run's
 * shared gateway (support/shared-gateway.ts: other files' users, clients and keys are there too, so
 * what storage holds is compared with what it held before, or read for this file's users). Measured
 * with a gateway of its own: 27 s of CPU over all its processes, 46-62 s wall while other jobs held
 * the load average near 10; most of it was `npm start`. Kept lean: one Chromium, one CLI call (the
 * first admin, through wrangler and D1: nobody can call the admin API yet, so it runs while Chromium
 * starts); everything else goes through the admin API with the admin's own token.
 */
import { join } from 'node:path'
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose'
import type * as oauth from 'oauth4webapi'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { admin } from './admin-support'
import { launchChromium, screenshot } from './support/browser'
import type { RunningGateway } from './support/gateway'
import { type Callback, discover, redeemCode, startAuthorization, startCallback } from './support/oauth-app'
import { sharedGateway } from './support/shared-gateway'
import { upstreamReceived } from './support/upstream'

const ADMIN = 'ada-admin'
const ADMIN_PASSWORD = 'the administrator passphrase of the review'
const USER = 'ulla-user'
const USER_PASSWORD = 'a plain user passphrase for the review'
const THIRD_PARTY = 'thirdparty'
const EDITOR_APP = 'editor-app'
const YEAR_SECONDS = 365 * 24 * 3600

let gateway: RunningGateway
let callback: Callback
let redirectUri: string
let browser: Browser
let adminPage: Page
let as: oauth.AuthorizationServer
let jwks: ReturnType<typeof createRemoteJWKSet>
/** The admin's own password-grant tokens (first-party). */
let own: { access_token: string; refresh_token: string; sub: string }

interface Call {
  method: string
  path: string
  body?: unknown
}

function call(token: string, { method, path, body }: Call, headers: Record<string, string> = {}) {
  return fetch(`${gateway.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

/** A JSON answer of the admin API to the admin's own token. */
async function asAdmin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await call(own.access_token, { method, path, body })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

/** Every client id, sorted (the admin API's list). */
async function clientIds(): Promise<string[]> {
  const clients = await asAdmin<{ items: { client_id: string }[] }>('GET', '/admin/clients')
  return clients.items.map((client) => client.client_id).sort()
}

/** The API keys a user owns (the admin API's list; other files' users have theirs). */
async function apiKeysOf(userId: string): Promise<{ id: string; name: string; user_id: string }[]> {
  const keys = await asAdmin<{ items: { id: string; name: string; user_id: string }[] }>(
    'GET',
    '/admin/api-keys',
  )
  return keys.items.filter((key) => key.user_id === userId)
}

function tokenRequest(form: Record<string, string>) {
  return fetch(`${gateway.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  })
}

/** The refusal every account- or gateway-managing endpoint gives a delegated token. */
async function expectRefused(response: Response): Promise<void> {
  expect(response.status).toBe(403)
  expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
  expect(await response.json()).toMatchObject({ error: 'insufficient_scope' })
}

/** A proxied call tagged for the demo upstream's recorder: the response and what arrived there. */
async function proxied(token: string, path: string) {
  const id = crypto.randomUUID()
  const response = await call(token, { method: 'GET', path }, { 'x-test-id': id })
  const body = await response.text()
  return { response, body, received: await upstreamReceived({ origin: gateway.upstreamOrigin }, id) }
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  expect(new URL(page.url()).pathname).toBe('/auth/login')
  await page.getByLabel(/user ?name/i).fill(username)
  await page.getByLabel(/^password$/i).fill(password)
  await page.getByRole('button', { name: /sign in/i }).click()
}

interface Consented {
  /** The lines of the consent page's list, whitespace collapsed. */
  lines: string[]
  tokens: oauth.TokenEndpointResponse
  /** The access token's verified claims. */
  claims: JWTPayload
}

/**
 * The app sends the browser to /auth/authorize (scope openid); the user signs in if `login` says
 * how, reads the consent page and clicks Allow; the app redeems the code at its callback.
 */
async function consentInBrowser(
  page: Page,
  clientId: string,
  login?: { username: string; password: string },
): Promise<Consented> {
  const client: oauth.Client = { client_id: clientId }
  const started = await startAuthorization(as, client, redirectUri, 'openid')
  await page.goto(started.url.href)
  if (login) await signIn(page, login.username, login.password)
  await page.waitForURL((url) => url.pathname === '/auth/authorize')
  const lines = (await page.locator('ul.scopes li').allTextContents()).map((line) =>
    line.replace(/\s+/g, ' ').trim(),
  )
  await page.getByRole('button', { name: 'Allow' }).click()
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`))
  const tokens = await redeemCode(as, client, started, redirectUri, new URL(page.url()))
  const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: gateway.origin })
  return { lines, tokens, claims: payload }
}

/** A public app with scope openid only, as the review registered `thirdparty`; `allowed_roles` as given. */
async function createClient(clientId: string, name: string, allowedRoles: string[]): Promise<void> {
  const created = await asAdmin<Record<string, unknown>>('POST', '/admin/clients', {
    client_id: clientId,
    name,
    public: true,
    redirect_uris: [redirectUri],
    scopes: ['openid'],
    ...(allowedRoles.length > 0 ? { allowed_roles: allowedRoles } : {}),
  })
  expect(created).toMatchObject({ scopes: ['openid'], allowed_roles: allowedRoles, first_party: false })
}

beforeAll(async () => {
  callback = await startCallback()
  redirectUri = `${callback.origin}/callback`
  gateway = await sharedGateway()
  // The first admin through D1 (nobody can call the admin API yet), while Chromium starts.
  const [created, launched] = await Promise.all([
    admin(
      join(gateway.dir, '.wrangler', 'state'),
      ['create-user', ADMIN, '--password-stdin', '--role', 'admin'],
      {
        stdin: ADMIN_PASSWORD,
      },
    ),
    launchChromium(),
  ])
  browser = launched
  if (created.code !== 0) throw new Error(`create-user: ${created.stderr}`)
  const login = await tokenRequest({ grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD })
  if (login.status !== 200) throw new Error(`admin login: ${login.status} ${await login.text()}`)
  own = (await login.json()) as typeof own
  as = await discover(gateway.origin)
  jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
  own.sub = (await jwtVerify(own.access_token, jwks, { issuer: gateway.origin })).payload.sub as string
  await Promise.all([
    createClient(THIRD_PARTY, 'Third Party', []),
    createClient(EDITOR_APP, 'Editor App', ['editor']),
    asAdmin('POST', '/admin/users', { username: USER, password: USER_PASSWORD, roles: ['user'] }),
  ])
  adminPage = await (await browser.newContext()).newPage()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await callback?.close()
})

describe('an admin lets `thirdparty` (scope openid, no allowed roles) know who they are', () => {
  let app: Consented

  test('the consent page names openid alone and no role; the token has no role, no first_party claim', async () => {
    app = await consentInBrowser(adminPage, THIRD_PARTY, { username: ADMIN, password: ADMIN_PASSWORD })
    expect(app.lines).toEqual(['Know who you are (your account id) (openid)'])
    expect(app.claims).toMatchObject({ sub: own.sub, scope: 'openid', roles: [], client_id: THIRD_PARTY })
    expect(app.claims).not.toHaveProperty('first_party')
    // The admin's own token, for comparison, says it is first-party.
    expect((await jwtVerify(own.access_token, jwks)).payload).toMatchObject({ first_party: true })
  })

  test('the admin API refuses the app: no admin user, no consent-skipping admin client, no audit, no explain', async () => {
    const mallory = { username: 'mallory', password: 'a new admin the app would make', roles: ['admin'] }
    const evil = {
      client_id: 'evil-app',
      public: false,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://evil.example/callback'],
      scopes: ['admin'],
      skip_consent: true,
    }
    const token = app.tokens.access_token
    const clientsBefore = await clientIds()
    await expectRefused(await call(token, { method: 'POST', path: '/admin/users', body: mallory }))
    await expectRefused(await call(token, { method: 'POST', path: '/admin/clients', body: evil }))
    await expectRefused(await call(token, { method: 'GET', path: '/admin/audit' }))
    await expectRefused(
      await call(token, {
        method: 'POST',
        path: '/admin/explain',
        body: { method: 'GET', path: '/api/admin/x' },
      }),
    )
    // Storage, read by the admin: neither the user nor the client exists.
    const users = await asAdmin<{ items: { username: string }[] }>('GET', '/admin/users?q=mallory')
    expect(users.items).toEqual([])
    // The gateway is shared with other files (support/shared-gateway.ts): the list is what it was.
    const clients = await clientIds()
    expect(clients).toEqual(clientsBefore)
    expect(clients).toEqual(expect.arrayContaining([EDITOR_APP, THIRD_PARTY]))
    expect(clients).not.toContain('evil-app')
  })

  test('GET /api/admin/x is 403 and never reaches the upstream', async () => {
    const { response, body, received } = await proxied(app.tokens.access_token, '/api/admin/x')
    expect(response.status).toBe(403)
    expect(JSON.parse(body)).toMatchObject({ error: 'forbidden' })
    expect(received).toEqual([])
  })

  test('it mints no API key (a 365-day key would outlive the consent)', async () => {
    const create = {
      method: 'POST',
      path: '/auth/api-keys',
      body: { name: 'thirdparty-key', expires_in: YEAR_SECONDS },
    }
    await expectRefused(await call(app.tokens.access_token, create))
    await expectRefused(await call(app.tokens.access_token, { method: 'GET', path: '/auth/api-keys' }))
    expect(await apiKeysOf(own.sub)).toEqual([])
  })

  test('it neither lists nor ends the admin’s sessions; the admin’s browser still opens /admin', async () => {
    await expectRefused(await call(app.tokens.access_token, { method: 'GET', path: '/auth/sessions' }))
    await expectRefused(await call(app.tokens.access_token, { method: 'POST', path: '/auth/logout-all' }))
    const opened = await adminPage.goto(`${gateway.origin}/admin`)
    expect(opened?.status()).toBe(200)
    expect(new URL(adminPage.url()).pathname).toBe('/admin')
    await screenshot(adminPage, 'delegated-review-admin-page')
    // The admin's own token lives on too (logout-all would have ended it).
    expect((await call(own.access_token, { method: 'GET', path: '/auth/me' })).status).toBe(200)
  })

  test('it keeps what an app is for: /api under the route’s rules, naming itself to the upstream; userinfo; me', async () => {
    const { response, received } = await proxied(app.tokens.access_token, '/api/x')
    expect(response.status).toBe(200)
    expect(received).toHaveLength(1)
    const headers = received[0]?.headers ?? {}
    expect(headers['x-auth-user']).toBe(ADMIN)
    expect(headers['x-auth-roles']).toBe('')
    const assertion = await jwtVerify(headers['x-auth-assertion'] as string, jwks, {
      issuer: gateway.origin,
      audience: gateway.upstreamOrigin,
    })
    expect(assertion.payload).toMatchObject({
      sub: own.sub,
      roles: [],
      client_id: THIRD_PARTY,
      azp: THIRD_PARTY,
    })

    const userinfo = await call(app.tokens.access_token, { method: 'GET', path: '/auth/userinfo' })
    expect(userinfo.status).toBe(200)
    expect(await userinfo.json()).toMatchObject({ sub: own.sub })
    const me = await call(app.tokens.access_token, { method: 'GET', path: '/auth/me' })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ username: ADMIN, roles: [] })
  })

  test('a refresh keeps the app’s token delegated: still no role, no first_party claim', async () => {
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: app.tokens.refresh_token as string,
      client_id: THIRD_PARTY,
    })
    expect(refreshed.status).toBe(200)
    app.tokens = (await refreshed.json()) as oauth.TokenEndpointResponse
    const { payload } = await jwtVerify(app.tokens.access_token, jwks, { issuer: gateway.origin })
    expect(payload).toMatchObject({ sub: own.sub, scope: 'openid', roles: [], client_id: THIRD_PARTY })
    expect(payload).not.toHaveProperty('first_party')
    await expectRefused(await call(app.tokens.access_token, { method: 'GET', path: '/admin/users' }))
  })

  test('every refusal is in the audit log, which the admin reads with their own token', async () => {
    const expected = [
      'POST /admin/users',
      'POST /admin/clients',
      'GET /admin/audit',
      'POST /admin/explain',
      'GET /admin/users',
      'POST /auth/api-keys',
      'GET /auth/api-keys',
      'GET /auth/sessions',
      'POST /auth/logout-all',
    ]
    type Event = {
      outcome: string
      actor_id: string
      client_id: string
      details: { method: string; path: string }
    }
    const path = `/admin/audit?type=delegated_token_refused&actor_id=${encodeURIComponent(own.sub)}`
    // Events are written after the response (waitUntil): give the last ones a moment.
    let events: Event[] = []
    for (let attempt = 0; attempt < 50 && events.length < expected.length; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100))
      events = (await asAdmin<{ items: Event[] }>('GET', path)).items
    }
    expect(events.map((event) => `${event.details.method} ${event.details.path}`).sort()).toEqual(
      [...expected].sort(),
    )
    for (const event of events) expect(event).toMatchObject({ outcome: 'failure', client_id: THIRD_PARTY })
  })

  test('it revokes its own tokens at /auth/revoke, never the admin’s own', async () => {
    // The app authenticates with its own access token, as RFC 7009 §2.1 lets a token's holder do.
    const revoke = (token: string) =>
      fetch(`${gateway.origin}/auth/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.tokens.access_token}` },
        body: new URLSearchParams({ token }),
      })
    // RFC 7009: 200 either way; what counts is which token stops working.
    expect((await revoke(own.refresh_token)).status).toBe(200)
    const adminRefresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: own.refresh_token })
    expect(adminRefresh.status).toBe(200)
    own = { ...own, ...((await adminRefresh.json()) as typeof own) }

    expect((await revoke(app.tokens.refresh_token as string)).status).toBe(200)
    const appRefresh = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: app.tokens.refresh_token as string,
      client_id: THIRD_PARTY,
    })
    expect(appRefresh.status).toBe(400)
    expect(await appRefresh.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await call(app.tokens.access_token, { method: 'GET', path: '/auth/me' })).status).toBe(401)
  })
})

describe('a plain user lets the same app in', () => {
  test('the app neither lists the user’s sessions nor logs them out everywhere; the browser session lives on', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const app = await consentInBrowser(page, THIRD_PARTY, { username: USER, password: USER_PASSWORD })
      expect(app.lines).toEqual(['Know who you are (your account id) (openid)'])
      expect(app.claims).toMatchObject({ scope: 'openid', roles: [], client_id: THIRD_PARTY })

      await expectRefused(await call(app.tokens.access_token, { method: 'GET', path: '/auth/sessions' }))
      await expectRefused(await call(app.tokens.access_token, { method: 'POST', path: '/auth/logout-all' }))
      // The browser's own session, with its cookie: still signed in, still listed.
      const sessions = await context.request.get(`${gateway.origin}/auth/sessions`, {
        headers: { accept: 'application/json' },
      })
      expect(sessions.status()).toBe(200)
      const { items } = (await sessions.json()) as { items: { current: boolean }[] }
      expect(items.filter((session) => session.current)).toHaveLength(1)
    } finally {
      await context.close()
    }
  })
})

describe('an app the operator allowed the role editor (`allowed_roles`)', () => {
  test('the consent page names the roles; the admin’s token acts as editor and user, never admin', async () => {
    // The admin's browser is still signed in: straight to the consent page for this new app.
    const app = await consentInBrowser(adminPage, EDITOR_APP)
    expect(app.lines).toEqual([
      'Know who you are (your account id) (openid)',
      'Act as editor on your behalf, with the rights that role gives you (role editor)',
      'Act as user on your behalf, with the rights that role gives you (role user)',
    ])
    expect(app.claims).toMatchObject({ roles: ['editor', 'user'], client_id: EDITOR_APP })
    expect(app.claims).not.toHaveProperty('first_party')

    const adminRoute = await proxied(app.tokens.access_token, '/api/admin/x')
    expect(adminRoute.response.status).toBe(403)
    expect(adminRoute.received).toEqual([])
    const api = await proxied(app.tokens.access_token, '/api/x')
    expect(api.response.status).toBe(200)
    expect(api.received[0]?.headers['x-auth-roles']).toBe('editor,user')
    await expectRefused(await call(app.tokens.access_token, { method: 'GET', path: '/admin/users' }))
  })
})

describe('first-party credentials keep their powers', () => {
  test('the admin’s password-grant token creates an API key, the only key the admin has', async () => {
    const created = await call(own.access_token, {
      method: 'POST',
      path: '/auth/api-keys',
      body: { name: 'ops-key', expires_in: 3600 },
    })
    expect(created.status).toBe(201)
    const key = (await created.json()) as { id: string; key: string }
    expect(await apiKeysOf(own.sub)).toEqual([
      expect.objectContaining({ id: key.id, name: 'ops-key', user_id: own.sub }),
    ])
  })
})
