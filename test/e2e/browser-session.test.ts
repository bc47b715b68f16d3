/**
 * Browser sessions in a real browser (issue 10): Debian's Chromium, driven by playwright-core,
 * against the real gateway started with `npm start` and the local config's browser route `/app`
 * (credentials ["session"]). One browser context walks the whole story in order: sent to the login
 * page, signs in, sees the upstream's echo, reloads, lists its sessions, is attacked from pages on
 * other origins, logs out, and signs in again from the bare login page to land on the account page. The upstream is an echo server in this process, so the test sees every
 * request that reached it, including ones whose sender could not tag them.
 *
 * Time budget: ~20 s on a 2-core machine (one gateway, Chromium, one CLI process).
 * Measured 20 s at load 3.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import type { Browser, BrowserContext, Cookie, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EchoServer, startEchoServer } from '../../scripts/echo-upstream'
import { admin } from './admin-support'
import {
  autoSubmitFormPage,
  credentialedFetchPage,
  launchChromium,
  type PageProblems,
  recordWire,
  type Site,
  screenshot,
  startSite,
  type WireLookup,
  watchProblems,
} from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'

const USERNAME = 'browser-user'
const PASSWORD = 'correct horse battery staple in a browser'

let echo: EchoServer
let gateway: RunningGateway
let browser: Browser
let context: BrowserContext
let page: Page
let problems: PageProblems
const upstreamSaw: { method: string; url: string; headers: IncomingHttpHeaders }[] = []

const url = (path: string): string => `${gateway.origin}${path}`

const bodyText = async (): Promise<string> => (await page.locator('body').textContent()) ?? ''

/** The echo upstream's JSON as the browser shows it (Chromium renders JSON as plain text). */
async function echoShown(): Promise<{ method: string; path: string; headers: Record<string, string> }> {
  return JSON.parse(await bodyText())
}

/** The gateway's cookies in the browser (session and CSRF cookies alike). */
async function gatewayCookies(): Promise<Cookie[]> {
  return (await context.cookies(gateway.origin)).filter((cookie) => /^(__Host-)?gw_/.test(cookie.name))
}

/**
 * Problems the gateway's own pages caused. Chromium asks every origin for /favicon.ico on its own
 * and logs the gateway's 404 for it as a console error; that request is not the page's doing.
 */
function pageProblems(): string[] {
  return problems.take().filter((problem) => !/status of 404 .*\/favicon\.ico\)$/.test(problem))
}

function expectLoginPage(at: string, returnTo: string): void {
  const location = new URL(at)
  expect(location.origin).toBe(gateway.origin)
  expect(location.pathname).toBe('/auth/login')
  expect(location.searchParams.get('return_to')).toBe(returnTo)
}

beforeAll(async () => {
  echo = await startEchoServer(0)
  echo.server.on('request', (request) => {
    upstreamSaw.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers })
  })
  gateway = await startGateway({ upstreamUrl: echo.origin })
  // The CLI on the gateway's own local state (`npm start` keeps it in the copy's .wrangler/state).
  const created = await admin(
    join(gateway.dir, '.wrangler', 'state'),
    ['create-user', USERNAME, '--password-stdin'],
    {
      stdin: PASSWORD,
    },
  )
  if (created.code !== 0) throw new Error(`create-user failed: ${created.stderr}`)
  browser = await launchChromium()
  context = await browser.newContext()
  problems = await watchProblems(context)
  page = await context.newPage()
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await gateway?.stop()
  await echo?.close()
})

describe('signing in from a browser', () => {
  test('a navigation to /app/ without a session is sent (302) to the login page with return_to', async () => {
    const response = await page.goto(url('/app/'))
    expect(response?.status()).toBe(200)
    expect(response?.request().redirectedFrom()?.url()).toBe(url('/app/'))
    expect((await response?.request().redirectedFrom()?.response())?.status()).toBe(302)
    expectLoginPage(page.url(), '/app/')
    expect(upstreamSaw).toEqual([])
  })

  test('the login page renders with its security headers and no console errors or CSP violations', async () => {
    const response = await page.reload()
    const headers = response?.headers() ?? {}
    expect(headers['content-type']).toMatch(/^text\/html/)
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/)
    expect(headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/)
    expect(headers['referrer-policy']).toBe('no-referrer')
    expect(headers['x-content-type-options']).toBe('nosniff')
    await expect(page.getByLabel(/user ?name/i).isVisible()).resolves.toBe(true)
    await screenshot(page, 'login-page')
    await page.setViewportSize({ width: 360, height: 740 })
    await screenshot(page, 'login-page-narrow')
    await page.setViewportSize({ width: 1280, height: 720 })
    expect(pageProblems()).toEqual([])
    expect(problems.cspViolations()).toEqual([])
  })

  test('a wrong password re-renders the form with status 401, the same message as an unknown user', async () => {
    const messages: string[] = []
    for (const [username, password] of [
      [USERNAME, 'not the password at all'],
      ['nobody-by-this-name', PASSWORD],
    ] as const) {
      await page.getByLabel(/user ?name/i).fill(username)
      await page.getByLabel(/^password$/i).fill(password)
      const [response] = await Promise.all([
        page.waitForResponse(
          (r) => r.url().startsWith(url('/auth/login')) && r.request().method() === 'POST',
        ),
        page.getByRole('button', { name: /sign in|log in/i }).click(),
      ])
      expect(response.status()).toBe(401)
      await page.waitForLoadState()
      expect(new URL(page.url()).pathname).toBe('/auth/login')
      await expect(page.getByLabel(/^password$/i).inputValue()).resolves.toBe('')
      messages.push(await bodyText())
    }
    expect(messages[0]).toBe(messages[1])
    await screenshot(page, 'login-page-wrong-password')
    // Chromium logs the 401 document itself as a failed load; nothing else may have gone wrong.
    expect(pageProblems().filter((problem) => !/status of 401/.test(problem))).toEqual([])
    expect(problems.cspViolations()).toEqual([])
    expect(await gatewayCookies()).not.toContainEqual(expect.objectContaining({ name: 'gw_session' }))
    expect(upstreamSaw).toEqual([])
  })

  test('signing in lands on /app/; the upstream sees X-Auth-Method: session and never a gateway cookie', async () => {
    await page.goto(url('/app/'))
    await page.getByLabel(/user ?name/i).fill(USERNAME)
    await page.getByLabel(/^password$/i).fill(PASSWORD)
    await Promise.all([
      page.waitForURL(url('/app/')),
      page.getByRole('button', { name: /sign in|log in/i }).click(),
    ])
    const shown = await echoShown()
    expect(shown.path).toBe('/app/')
    expect(shown.headers['x-auth-method']).toBe('session')
    expect(shown.headers['x-auth-user']).toBe(USERNAME)
    expect(shown.headers['x-auth-user-id']).toMatch(/\S/)
    expect(shown.headers['x-auth-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)

    // Plain http: the unprefixed cookie name, HttpOnly, SameSite=Lax, host-wide.
    const cookies = await gatewayCookies()
    const session = cookies.find((cookie) => cookie.name === 'gw_session')
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false })
    expect(session?.value.length).toBeGreaterThanOrEqual(43) // 256 bits, base64url
    const text = await bodyText()
    for (const cookie of cookies) expect(text).not.toContain(cookie.value)
    const forwarded = upstreamSaw.at(-1)
    expect(forwarded?.url).toBe('/app/')
    for (const cookie of cookies) expect(JSON.stringify(forwarded?.headers)).not.toContain(cookie.value)
    expect(pageProblems()).toEqual([])
  })

  test('a reload stays signed in', async () => {
    const before = upstreamSaw.length
    const response = await page.reload()
    expect(response?.status()).toBe(200)
    expect(page.url()).toBe(url('/app/'))
    expect((await echoShown()).headers['x-auth-method']).toBe('session')
    expect(upstreamSaw.length).toBe(before + 1)
  })

  test('the sessions page lists the current session', async () => {
    const response = await page.goto(url('/auth/sessions'))
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-type']).toMatch(/^text\/html/)
    await expect(
      page
        .getByText(/current/i)
        .first()
        .isVisible(),
    ).resolves.toBe(true)
    await screenshot(page, 'sessions-page')
    expect(pageProblems()).toEqual([])
    expect(problems.cspViolations()).toEqual([])
  })
})

describe('a signed-in browser attacked from another origin', () => {
  const sites: Site[] = []
  afterAll(async () => {
    await Promise.all(sites.map((site) => site.close()))
  })

  /** Opens the attacker's page (one tiny site per test) in a new tab of the signed-in context. */
  async function visit(
    html: string,
    host: string,
    during: (attacker: Page, site: Site, wire: WireLookup) => Promise<void>,
  ) {
    const site = await startSite({ '/': html }, host)
    sites.push(site)
    const attacker = await context.newPage()
    try {
      await during(attacker, site, await recordWire(attacker))
    } finally {
      await attacker.close()
      problems.take() // the attacker's page logs its refused requests; not the gateway's concern
    }
  }

  /** What the browser sent and the gateway answered: refused, for the reason this kind implies. */
  async function expectRefused(wire: WireLookup, target: string, kind: 'same-site' | 'cross-site') {
    // The raw request headers and the raw response arrive as separate protocol events.
    const complete = () =>
      Object.keys(wire(target)?.sent ?? {}).length > 0 && wire(target)?.status !== undefined
    await expect.poll(complete).toBe(true)
    const exchange = wire(target)
    expect(exchange?.method).toBe('POST')
    expect(exchange?.sent['sec-fetch-site']).toBe(kind)
    if (kind === 'same-site') {
      // The session cookie went along, so the CSRF check is what refuses it.
      expect(exchange?.sent.cookie, `sent ${Object.keys(exchange?.sent ?? {})}`).toMatch(/(^|; )gw_session=/)
      expect(exchange?.status).toBe(403)
    } else {
      // SameSite=Lax keeps the cookie off a cross-site POST; the gateway sees no session at all.
      expect(exchange?.sent.cookie ?? '').not.toMatch(/(^|; )gw_session=/)
      expect([401, 403]).toContain(exchange?.status)
    }
  }

  const forwarded = (marker: string) => upstreamSaw.filter((seen) => seen.url.includes(marker))

  // 127.0.0.1 on another port is another origin but the same site, so SameSite=Lax still sends the
  // session cookie and only the CSRF check stands in the way. localhost is another site as well.
  for (const [kind, host] of [
    ['same-site', '127.0.0.1'],
    ['cross-site', 'localhost'],
  ] as const) {
    test(`a ${kind} auto-submitted form POST to a session route is refused and not forwarded`, async () => {
      const marker = `csrf-form-${randomUUID()}`
      const target = url(`/app/transfer/${marker}`)
      await visit(autoSubmitFormPage(target), host, async (attacker, site, wire) => {
        const [response] = await Promise.all([
          attacker.waitForResponse((r) => r.url() === target),
          attacker.goto(`${site.origin}/`),
        ])
        await expectRefused(wire, target, kind)
        if (kind === 'same-site') expect(await response.json()).toMatchObject({ error: 'csrf_failed' })
      })
      expect(forwarded(marker)).toEqual([])
    })

    test(`a ${kind} fetch with credentials to a session route is refused and not forwarded`, async () => {
      const marker = `csrf-fetch-${randomUUID()}`
      const target = url(`/app/x/${marker}`)
      await visit(credentialedFetchPage(target), host, async (attacker, site, wire) => {
        await attacker.goto(`${site.origin}/`)
        await attacker.waitForFunction(() => document.title.includes(','))
        // The page learns nothing: CORS hides the answer, and no-cors yields an opaque response.
        expect(await attacker.title()).toBe('blocked, read 0 opaque')
        await expectRefused(wire, `${target}/cors`, kind)
        await expectRefused(wire, `${target}/no-cors`, kind)
      })
      expect(forwarded(marker)).toEqual([])
    })
  }
})

describe('logging out', () => {
  test('logout ends the session and the next navigation to /app/ is sent to the login page', async () => {
    await page.goto(url('/auth/sessions'))
    const before = await gatewayCookies()
    // This browser's sign-out, not "everywhere" nor one row's "End session".
    const logout = page.getByRole('button', { name: /^(sign|log) ?out( of this browser)?$/i })
    await Promise.all([
      page.waitForResponse((r) => r.url() === url('/auth/logout') && r.request().method() === 'POST'),
      logout.click(),
    ])
    await page.waitForLoadState()
    expect(new URL(page.url()).pathname).toBe('/auth/login')
    expect(await gatewayCookies()).not.toContainEqual(expect.objectContaining({ name: 'gw_session' }))

    const seen = upstreamSaw.length
    await page.goto(url('/app/'))
    expectLoginPage(page.url(), '/app/')
    expect(upstreamSaw.length).toBe(seen)

    // Ended on the server, not only forgotten by the browser: the old cookie, replayed, is refused.
    const old = before.find((cookie) => cookie.name === 'gw_session')
    const replay = await fetch(url('/app/replay'), { headers: { cookie: `gw_session=${old?.value}` } })
    expect(replay.status).toBe(401)
    expect(upstreamSaw.length).toBe(seen)
  })

  test('signing in from the bare login page lands on the account page, with no CSP violation', async () => {
    await page.goto(url('/auth/login'))
    await page.getByLabel(/user ?name/i).fill(USERNAME)
    await page.getByLabel(/^password$/i).fill(PASSWORD)
    await Promise.all([
      page.waitForURL(url('/auth/account')),
      page.getByRole('button', { name: /sign in|log in/i }).click(),
    ])
    await expect(page.getByRole('heading', { name: 'Your account' }).isVisible()).resolves.toBe(true)
    expect(await bodyText()).toContain(`Signed in as ${USERNAME}`)
    await expect(page.getByRole('link', { name: 'Your sessions' }).isVisible()).resolves.toBe(true)
    await screenshot(page, 'account-page')
    expect(pageProblems()).toEqual([])
    expect(problems.cspViolations()).toEqual([])
  })
})
