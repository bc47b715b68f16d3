/**
 * The authorization code flow with PKCE as a real app meets it (issue 11, "Tests (real parts)"):
 * a stock client library (panva's oauth4webapi) builds the request and redeems the code, real
 * Chromium (playwright-core + Debian's chromium) signs in and approves on the gateway's own pages,
 * and the app's redirect URI is a loopback callback server this test runs (RFC 8252 §7.3). The
 * gateway is the real one (`npm start`), its client and user made with the operator CLI.
 * The same client also runs as a page on the callback's origin that redeems its code with `fetch`
 * (CORS), while a page on an unregistered origin is refused by the browser.
 *
 * Time budget: ~10 s on a 2-core machine (Chromium against the run's shared gateway,
 * support/shared-gateway.ts, ~15 s more if it is the first file to ask; the CLI set-up runs
 * in-process). Measured 19 s at load 2 with a gateway of its own, before the two CORS pages (~1.5 s).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EchoServer } from '../../scripts/echo-upstream'
import { adminInProcess, closeLocalStates } from './admin-support'
import {
  launchChromium,
  type PageProblems,
  recordWire,
  type Site,
  screenshot,
  startSite,
  watchProblems,
} from './support/browser'
import type { RunningGateway } from './support/gateway'
import {
  type Callback,
  codeGrantRequest,
  discover,
  insecure,
  type StartedAuthorization,
  startAuthorization,
  startCallback,
} from './support/oauth-app'
import { PROJECT_ROOT } from './support/project-copy'
import { sharedGateway } from './support/shared-gateway'
import { upstreamReceived } from './support/upstream'

const USERNAME = 'spa-user'
const PASSWORD = 'correct horse battery staple for the spa'
const CLIENT_ID = 'demo-spa'

let echo: Pick<EchoServer, 'origin'>
let gateway: RunningGateway
let callback: Callback
let browser: Browser
let context: BrowserContext
let page: Page
let problems: PageProblems
let as: oauth.AuthorizationServer
const client: oauth.Client = { client_id: CLIENT_ID }
let redirectUri: string

/**
 * A browser app that does the whole flow itself (PKCE in the page, the code redeemed with `fetch`):
 * at /spa it sends the browser to the gateway; back at /spa/callback it exchanges the code, reads
 * /auth/userinfo, replays the code to read the `invalid_grant` refusal, and tries userinfo once with
 * `credentials: 'include'` (which CORS without credentials must refuse). The outcome lands in
 * `window.spaResult`.
 */
const spaPage = (gatewayOrigin: string): string => `<!doctype html><title>spa</title><script type="module">
const gateway = ${JSON.stringify(gatewayOrigin)}
const clientId = ${JSON.stringify(CLIENT_ID)}
const redirectUri = location.origin + '/spa/callback'
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)))
const outcome = (promise) => promise.then(async (r) => ({ status: r.status, body: await r.json() }), (e) => ({ failed: e.name }))
if (location.pathname === '/spa') {
  const verifier = random(32)
  const state = random(16)
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  sessionStorage.setItem('flow', JSON.stringify({ verifier, state }))
  location.assign(gateway + '/auth/authorize?' + new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid profile read',
    state, code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: 'S256',
  }))
} else {
  const { verifier, state } = JSON.parse(sessionStorage.getItem('flow'))
  const params = new URLSearchParams(location.search)
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'),
    redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId })
  const token = await outcome(fetch(gateway + '/auth/token', { method: 'POST', body: form }))
  const bearer = { authorization: 'Bearer ' + token.body?.access_token }
  const userinfo = await outcome(fetch(gateway + '/auth/userinfo', { headers: bearer }))
  const replay = await outcome(fetch(gateway + '/auth/token', { method: 'POST', body: form }))
  const withCookies = await outcome(fetch(gateway + '/auth/userinfo', { headers: bearer, credentials: 'include' }))
  window.spaResult = { stateMatches: params.get('state') === state, token, userinfo, replay, withCookies }
}
</script>`

/** A page on an origin no client registered, trying the same calls (and public metadata). */
const foreignPage = (
  gatewayOrigin: string,
): string => `<!doctype html><title>foreign</title><script type="module">
const gateway = ${JSON.stringify(gatewayOrigin)}
const outcome = (promise) => promise.then((r) => 'read ' + r.status, (e) => e.name)
const form = new URLSearchParams({ grant_type: 'authorization_code', code: 'ac_x', client_id: ${JSON.stringify(CLIENT_ID)} })
window.foreignResult = {
  token: await outcome(fetch(gateway + '/auth/token', { method: 'POST', body: form })),
  userinfo: await outcome(fetch(gateway + '/auth/userinfo', { headers: { authorization: 'Bearer x' } })),
  discovery: await outcome(fetch(gateway + '/.well-known/openid-configuration')),
}
</script>`

/** The operator CLI on the gateway's local state, in this process (the setup is about D1 rows). */
async function cli(args: string[], stdin?: string): Promise<string> {
  const run = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), args, { stdin })
  if (run.code !== 0) throw new Error(`admin ${args[0]} failed: ${run.stderr}`)
  return run.stdout
}

function authorizationUrl(scope = 'openid profile read'): Promise<StartedAuthorization> {
  return startAuthorization(as, client, redirectUri, scope)
}

/** Waits until the browser arrives at the app's callback; returns that URL. */
async function arrivedAtApp(): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`))
  return new URL(page.url())
}

function redeem(started: StartedAuthorization, at: URL) {
  return codeGrantRequest(as, client, started, redirectUri, at)
}

beforeAll(async () => {
  // The SPA's own pages live on the callback's origin (a registered redirect URI's origin: CORS).
  callback = await startCallback((path) =>
    path === '/spa' || path === '/spa/callback' ? spaPage(gateway.origin) : undefined,
  )
  redirectUri = `${callback.origin}/callback`
  gateway = await sharedGateway()
  // The demo upstream `npm start` runs: the echo server, whose record is keyed by x-test-id.
  echo = { origin: gateway.upstreamOrigin }
  await cli(['create-user', USERNAME, '--password-stdin'], PASSWORD)
  await cli([
    'create-client',
    CLIENT_ID,
    '--public',
    '--redirect-uri',
    redirectUri,
    '--redirect-uri',
    `${callback.origin}/spa/callback`,
    '--post-logout-redirect-uri',
    `${callback.origin}/signed-out`,
    '--scope',
    'openid',
    '--scope',
    'profile',
    '--scope',
    'read',
    '--name',
    'Demo SPA',
  ])
  await cli([
    'create-client',
    'cli-demo',
    '--public',
    '--redirect-uri',
    'http://127.0.0.1/callback',
    '--scope',
    'openid',
    '--scope',
    'profile',
    '--scope',
    'read',
    '--name',
    'CLI demo',
  ])
  as = await discover(gateway.origin)
  browser = await launchChromium()
  context = await browser.newContext()
  problems = await watchProblems(context)
  page = await context.newPage()
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await closeLocalStates()
  await callback?.close()
})

let idToken: string

describe('a public SPA client signs a user in with oauth4webapi and Chromium', () => {
  test('discovery names the authorization endpoint, S256 only, and iss in responses', () => {
    expect(as.authorization_endpoint).toBe(`${gateway.origin}/auth/authorize`)
    expect(as.code_challenge_methods_supported).toEqual(['S256'])
    expect(as.authorization_response_iss_parameter_supported).toBe(true)
  })

  test('login → consent → code → tokens; the access token opens /api and the ID token verifies', async () => {
    const started = await authorizationUrl()
    await page.goto(started.url.href)
    expect(new URL(page.url()).pathname).toBe('/auth/login')
    await page.getByLabel(/user ?name/i).fill(USERNAME)
    await page.getByLabel(/^password$/i).fill(PASSWORD)
    await page.getByRole('button', { name: /sign in/i }).click()

    await page.waitForURL((url) => url.pathname === '/auth/authorize')
    const consent = (await page.locator('main').textContent()) ?? ''
    expect(consent).toContain('Allow Demo SPA to use your account?')
    expect(consent).toContain('Know who you are')
    expect(consent).toContain('See your username and roles')
    expect(consent).toContain('Read data through the API as you')
    expect(consent).toContain(USERNAME)
    await screenshot(page, 'consent-page')
    await page.getByRole('button', { name: 'Allow' }).click()

    const at = await arrivedAtApp()
    expect(at.searchParams.get('iss')).toBe(gateway.origin)
    const { response } = await redeem(started, at)
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: started.nonce,
      requireIdToken: true,
    })
    expect(tokens.refresh_token).toBeTruthy()
    idToken = tokens.id_token as string

    const claims = oauth.getValidatedIdTokenClaims(tokens)
    const info = await oauth.processUserInfoResponse(
      as,
      client,
      claims?.sub as string,
      await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
    )
    expect(info).toMatchObject({ sub: claims?.sub, preferred_username: USERNAME })

    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
    const { payload } = await jwtVerify(idToken, jwks, { issuer: gateway.origin, audience: CLIENT_ID })
    expect(payload.nonce).toBe(started.nonce)
    expect(payload.amr).toEqual(['pwd'])

    const id = crypto.randomUUID()
    const api = await fetch(`${gateway.origin}/api/things`, {
      headers: { authorization: `Bearer ${tokens.access_token}`, 'x-test-id': id },
    })
    expect(api.status).toBe(200)
    const [received] = await upstreamReceived(echo, id)
    expect(received?.headers['x-auth-method']).toBe('jwt')
    const assertion = await jwtVerify(received?.headers['x-auth-assertion'] as string, jwks, {
      issuer: gateway.origin,
    })
    expect(assertion.payload.client_id).toBe(CLIENT_ID)
    expect(problems.take().filter((p) => !/favicon\.ico/.test(p))).toEqual([])
  })

  test('a second authorization skips the remembered consent; a replayed code is refused', async () => {
    const started = await authorizationUrl()
    await page.goto(started.url.href)
    const at = await arrivedAtApp()
    const first = await redeem(started, at)
    await oauth.processAuthorizationCodeResponse(as, client, first.response, { expectedNonce: started.nonce })
    const replay = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      first.params,
      redirectUri,
      started.verifier,
      insecure,
    )
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })
  })

  test('a new browser signs in and goes straight back to the app (login form → authorize → app)', async () => {
    const second = await browser.newContext()
    const other = await second.newPage()
    try {
      const started = await authorizationUrl()
      await other.goto(started.url.href)
      await other.getByLabel(/user ?name/i).fill(USERNAME)
      await other.getByLabel(/^password$/i).fill(PASSWORD)
      await other.getByRole('button', { name: /sign in/i }).click()
      await other.waitForURL((url) => url.href.startsWith(`${redirectUri}?`))
      const params = oauth.validateAuthResponse(as, client, new URL(other.url()), started.state)
      expect(params.get('code')).toMatch(/^ac_/)
    } finally {
      await second.close()
    }
  })

  test('the example in examples/cli-pkce signs in through a browser and prints verified tokens', async () => {
    const child = spawn(process.execPath, ['examples/cli-pkce/sign-in.mjs'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ISSUER: gateway.origin, CLIENT_ID: 'cli-demo' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)))
    const second = await browser.newContext()
    try {
      const deadline = Date.now() + 20_000
      while (!/https?:\/\/\S+\/auth\/authorize\?\S+/.test(stdout) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100))
      const link = /(https?:\/\/\S+\/auth\/authorize\?\S+)/.exec(stdout)?.[1]
      expect(link, stderr).toBeDefined()
      const tab = await second.newPage()
      await tab.goto(link as string)
      await tab.getByLabel(/user ?name/i).fill(USERNAME)
      await tab.getByLabel(/^password$/i).fill(PASSWORD)
      await tab.getByRole('button', { name: /sign in/i }).click()
      await tab.getByRole('button', { name: 'Allow' }).click()
      await tab.waitForURL((url) => url.pathname === '/callback')
      expect(await exited, stderr).toBe(0)
    } finally {
      await second.close()
      child.kill()
    }
    const printed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<string, unknown>
    expect(printed).toMatchObject({
      scope: 'openid profile read',
      id_token_claims: { iss: gateway.origin, aud: 'cli-demo' },
      userinfo: { preferred_username: USERNAME },
    })
    expect(printed.access_token).toEqual(expect.any(String))
  })

  test('RP-initiated logout with the ID token ends the browser session and returns to the app with state', async () => {
    const url = new URL(as.end_session_endpoint as string)
    url.search = new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: `${callback.origin}/signed-out`,
      state: 'bye',
    }).toString()
    await page.goto(url.href)
    expect(page.url()).toBe(`${callback.origin}/signed-out?state=bye`)
    // Signed out: the next authorization asks for a login again.
    await page.goto((await authorizationUrl()).url.href)
    expect(new URL(page.url()).pathname).toBe('/auth/login')
  })
})

interface FetchOutcome {
  status?: number
  body?: Record<string, unknown>
  failed?: string
}

describe('the same client as a browser app on another origin (CORS)', () => {
  test('the page redeems its code and reads userinfo with fetch; a replay’s invalid_grant is readable; cookies are not', async () => {
    await page.goto(`${callback.origin}/spa`)
    await page.waitForURL(
      (url) => url.pathname === '/auth/login' || url.href.startsWith(`${callback.origin}/spa/callback?`),
    )
    // Signed out by the logout test above: sign in again (the consent is remembered).
    if (new URL(page.url()).pathname === '/auth/login') {
      await page.getByLabel(/user ?name/i).fill(USERNAME)
      await page.getByLabel(/^password$/i).fill(PASSWORD)
      await page.getByRole('button', { name: /sign in/i }).click()
    }
    await page.waitForFunction(() => 'spaResult' in window, undefined, { timeout: 20_000 })
    const result = (await page.evaluate(() => (window as unknown as { spaResult: unknown }).spaResult)) as {
      stateMatches: boolean
      token: FetchOutcome
      userinfo: FetchOutcome
      replay: FetchOutcome
      withCookies: FetchOutcome
    }
    expect(result.stateMatches).toBe(true)
    expect(result.token.status).toBe(200)
    expect(result.token.body).toMatchObject({ token_type: 'Bearer', scope: 'openid profile read' })
    expect(result.userinfo).toMatchObject({ status: 200, body: { preferred_username: USERNAME } })
    expect(result.replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })
    expect(result.withCookies).toEqual({ failed: 'TypeError' })
    const unexpected = problems
      .take()
      .filter((p) => !/favicon\.ico|blocked by CORS policy|net::ERR_FAILED|status of 400/.test(p))
    expect(unexpected).toEqual([])
  })

  test('a page on an unregistered origin cannot read the token endpoint or userinfo, only public metadata', async () => {
    let site: Site | undefined
    const other = await browser.newContext()
    try {
      site = await startSite({ '/': foreignPage(gateway.origin) })
      const tab = await other.newPage()
      const wire = await recordWire(tab)
      await tab.goto(`${site.origin}/`)
      await tab.waitForFunction(() => 'foreignResult' in window, undefined, { timeout: 20_000 })
      const result = await tab.evaluate(() => (window as unknown as { foreignResult: unknown }).foreignResult)
      expect(result).toEqual({ token: 'TypeError', userinfo: 'TypeError', discovery: 'read 200' })
      // The gateway did answer the token request (a simple request, no preflight): the browser hid it.
      expect(wire(`${gateway.origin}/auth/token`)?.status).toBe(400)
    } finally {
      await other.close()
      await site?.close()
    }
  })
})
