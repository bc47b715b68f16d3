/**
 * The authorization code flow with PKCE as a real app meets it (issue 11, "Tests (real parts)"):
 * a stock client library (panva's oauth4webapi) builds the request and redeems the code, real
 * Chromium (playwright-core + Debian's chromium) signs in and approves on the gateway's own pages,
 * and the app's redirect URI is a loopback callback server this test runs (RFC 8252 §7.3). The
 * gateway is the real one (`npm start`), its client and user made with the operator CLI.
 *
 * Time budget: ~20 s on a 2-core machine (one gateway, Chromium; the CLI set-up runs in-process).
 * Measured 19 s at load 2.
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EchoServer, startEchoServer } from '../../scripts/echo-upstream'
import { adminInProcess, closeLocalStates } from './admin-support'
import { launchChromium, type PageProblems, screenshot, watchProblems } from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'
import { PROJECT_ROOT } from './support/project-copy'
import { upstreamReceived } from './support/upstream'

const USERNAME = 'spa-user'
const PASSWORD = 'correct horse battery staple for the spa'
const CLIENT_ID = 'demo-spa'
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http only

let echo: EchoServer
let gateway: RunningGateway
let callback: { origin: string; server: Server; hits: URL[] }
let browser: Browser
let context: BrowserContext
let page: Page
let problems: PageProblems
let as: oauth.AuthorizationServer
const client: oauth.Client = { client_id: CLIENT_ID }
let redirectUri: string

/** The app's loopback redirect URI: records what arrives and shows a plain page. */
async function startCallback(): Promise<typeof callback> {
  const hits: URL[] = []
  const server = createServer((request, response) => {
    hits.push(new URL(request.url ?? '/', 'http://127.0.0.1'))
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end('<!doctype html><title>app</title><p>signed in</p>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, server, hits }
}

/** The operator CLI on the gateway's local state, in this process (the setup is about D1 rows). */
async function cli(args: string[], stdin?: string): Promise<string> {
  const run = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), args, { stdin })
  if (run.code !== 0) throw new Error(`admin ${args[0]} failed: ${run.stderr}`)
  return run.stdout
}

interface Started {
  url: URL
  verifier: string
  state: string
  nonce: string
}

async function authorizationUrl(scope = 'openid profile read'): Promise<Started> {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint as string)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString()
  return { url, verifier, state, nonce }
}

/** Waits until the browser arrives at the app's callback; returns that URL. */
async function arrivedAtApp(): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`))
  return new URL(page.url())
}

async function redeem(started: Started, at: URL) {
  const params = oauth.validateAuthResponse(as, client, at, started.state)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri,
    started.verifier,
    insecure,
  )
  return { params, response }
}

beforeAll(async () => {
  echo = await startEchoServer(0)
  callback = await startCallback()
  redirectUri = `${callback.origin}/callback`
  gateway = await startGateway({ upstreamUrl: echo.origin })
  await cli(['create-user', USERNAME, '--password-stdin'], PASSWORD)
  await cli([
    'create-client',
    CLIENT_ID,
    '--public',
    '--redirect-uri',
    redirectUri,
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
  const issuer = new URL(gateway.origin)
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  )
  browser = await launchChromium()
  context = await browser.newContext()
  problems = await watchProblems(context)
  page = await context.newPage()
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await closeLocalStates()
  await gateway?.stop()
  await echo?.close()
  callback?.server.closeAllConnections()
  await new Promise((resolve) => callback?.server.close(resolve))
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
