import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { fetchWithEnv, GATEWAY, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { type BrowserLogin, browserLogin, type Fetcher } from '../../test/support/sessions'

const TRUSTED = 'https://app.partner.test'
const EVIL = 'https://evil.example'

let browser: BrowserLogin
let trustedBrowser: BrowserLogin
const withTrusted: Fetcher = (path, init) =>
  fetchWithEnv({ SETTINGS: { ...(env.SETTINGS as object), trusted_origins: [TRUSTED] } }, path, init)

beforeAll(async () => {
  await createUser('csrf-user')
  browser = await browserLogin('csrf-user')
  trustedBrowser = await browserLogin('csrf-user', { through: withTrusted })
})

type HeaderMap = Record<string, string>
const CASES: [string, HeaderMap, 'allowed' | 'refused'][] = [
  ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: EVIL }, 'refused'],
  [
    'Sec-Fetch-Site: same-site (a sibling subdomain)',
    { 'sec-fetch-site': 'same-site', origin: 'http://sub.gateway.test' },
    'refused',
  ],
  ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin', origin: GATEWAY }, 'allowed'],
  ['Sec-Fetch-Site: none (typed or bookmarked by the user)', { 'sec-fetch-site': 'none' }, 'allowed'],
  [
    'Sec-Fetch-Site: cross-site, even with Origin: the gateway',
    { 'sec-fetch-site': 'cross-site', origin: GATEWAY },
    'refused',
  ],
  ['no Fetch Metadata, Origin: the gateway', { origin: GATEWAY }, 'allowed'],
  ['no Fetch Metadata, Origin: another site', { origin: EVIL }, 'refused'],
  ['no Fetch Metadata, Origin: null (sandboxed frame)', { origin: 'null' }, 'refused'],
  [
    'no Fetch Metadata, Origin: the gateway host on another port',
    { origin: 'http://gateway.test:8080' },
    'refused',
  ],
  ['neither header and no token', {}, 'refused'],
  ['neither header, a token that does not match', { 'x-csrf-token': 'D'.repeat(43) }, 'refused'],
]

function cookieWithToken(login: BrowserLogin, headers: HeaderMap): HeaderMap {
  return { cookie: login.cookie, ...headers }
}

async function probeProxied(headers: HeaderMap, through: Fetcher = gatewayFetch) {
  const id = testId()
  const response = await through('/app/orders', {
    method: 'POST',
    headers: { ...headers, 'x-test-id': id, 'content-type': 'application/json' },
    body: '{"amount":100}',
  })
  return {
    status: response.status,
    body: await response.text(),
    forwarded: (await upstreamReceived(id)).length,
  }
}

/** A gateway endpoint: ending an unknown session is 404 when the request is let through, 403 when refused. */
async function probeGateway(headers: HeaderMap, through: Fetcher = gatewayFetch) {
  const response = await through(`/auth/sessions/${crypto.randomUUID()}`, { method: 'DELETE', headers })
  return { status: response.status, body: await response.text() }
}

describe('CSRF: session-authenticated unsafe requests must be same-origin', () => {
  it.each(CASES)('proxied route, %s: %s', async (_name, headers, expected) => {
    const result = await probeProxied(cookieWithToken(browser, headers))
    if (expected === 'allowed') {
      expect(result).toMatchObject({ status: 200, forwarded: 1 })
    } else {
      expect(result.status).toBe(403)
      expect(JSON.parse(result.body)).toMatchObject({ error: 'csrf_failed' })
      expect(result.forwarded).toBe(0)
    }
  })

  it.each(CASES)('gateway endpoint, %s: %s', async (_name, headers, expected) => {
    const result = await probeGateway(cookieWithToken(browser, headers))
    if (expected === 'allowed') expect(result.status).toBe(404)
    else {
      expect(result.status).toBe(403)
      expect(JSON.parse(result.body)).toMatchObject({ error: 'csrf_failed' })
    }
  })

  it('neither header but X-CSRF-Token equal to the CSRF cookie (double submit) is allowed on both', async () => {
    const headers = { 'x-csrf-token': browser.csrf }
    expect(await probeProxied(cookieWithToken(browser, headers))).toMatchObject({ status: 200, forwarded: 1 })
    expect((await probeGateway(cookieWithToken(browser, headers))).status).toBe(404)
  })

  it('a planted CSRF cookie with a matching header (cookie tossing) is refused: the token is bound to the session', async () => {
    const planted = 'E'.repeat(43)
    const cookie = browser.cookie.replace(/gw_csrf=[^;]*/, `gw_csrf=${planted}`)
    const headers = { cookie, 'x-csrf-token': planted }
    expect(await probeProxied(headers)).toMatchObject({ status: 403, forwarded: 0 })
    expect((await probeGateway(headers)).status).toBe(403)
  })

  it('a configured trusted origin is allowed when the browser sends no Fetch Metadata (CONTRACT), and only where configured', async () => {
    const headers: HeaderMap = { origin: TRUSTED }
    expect(await probeProxied(cookieWithToken(trustedBrowser, headers), withTrusted)).toMatchObject({
      status: 200,
      forwarded: 1,
    })
    expect((await probeGateway(cookieWithToken(trustedBrowser, headers), withTrusted)).status).toBe(404)
    expect((await probeProxied(cookieWithToken(browser, { origin: TRUSTED }))).status).toBe(403)
  })

  it('Sec-Fetch-Site: cross-site is refused even from a trusted origin (Fetch Metadata decides when present)', async () => {
    const headers: HeaderMap = { origin: TRUSTED, 'sec-fetch-site': 'cross-site' }
    expect(await probeProxied(cookieWithToken(trustedBrowser, headers), withTrusted)).toMatchObject({
      status: 403,
      forwarded: 0,
    })
    expect((await probeGateway(cookieWithToken(trustedBrowser, headers), withTrusted)).status).toBe(403)
  })

  it('safe methods are not subject to it (a cross-site GET of a session route is forwarded)', async () => {
    const id = testId()
    const response = await gatewayFetch('/app/orders', {
      headers: { cookie: browser.cookie, 'sec-fetch-site': 'cross-site', origin: EVIL, 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
  })

  it('bearer-authenticated requests carry no ambient credential and are not subject to it', async () => {
    const tokens = await login('csrf-user')
    const id = testId()
    const response = await gatewayFetch('/api/orders', {
      method: 'POST',
      headers: {
        ...bearer(tokens.access_token),
        cookie: browser.cookie,
        'sec-fetch-site': 'cross-site',
        origin: EVIL,
        'x-test-id': id,
      },
    })
    expect(response.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
  })
})

describe('login CSRF: the login form needs its token and a same-origin POST', () => {
  async function postLogin(fields: Record<string, string>, headers: HeaderMap) {
    const response = await gatewayFetch('/auth/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
      body: new URLSearchParams({
        username: 'csrf-user',
        password: 'correct horse battery staple',
        ...fields,
      }),
    })
    return {
      status: response.status,
      setsSession: response.headers
        .getAll('set-cookie')
        .some((c) => c.startsWith('gw_session=') && !c.startsWith('gw_session=;')),
    }
  }
  const token = 'F'.repeat(43)

  it.each([
    ['without the form token', {}, { cookie: `gw_csrf=${token}`, 'sec-fetch-site': 'same-origin' }],
    ['without the CSRF cookie', { csrf: token }, { 'sec-fetch-site': 'same-origin' }],
    [
      'with a token that differs from the cookie',
      { csrf: token },
      { cookie: `gw_csrf=${'G'.repeat(43)}`, 'sec-fetch-site': 'same-origin' },
    ],
    [
      'from another site (matching token and cookie)',
      { csrf: token },
      { cookie: `gw_csrf=${token}`, 'sec-fetch-site': 'cross-site', origin: EVIL },
    ],
    [
      'from another origin without Fetch Metadata',
      { csrf: token },
      { cookie: `gw_csrf=${token}`, origin: EVIL },
    ],
  ])('refuses a login %s (403, no session)', async (_name, fields, headers) => {
    expect(await postLogin(fields, headers)).toEqual({ status: 403, setsSession: false })
  })

  it('accepts the same login with the token and a same-origin POST', async () => {
    expect(
      await postLogin({ csrf: token }, { cookie: `gw_csrf=${token}`, 'sec-fetch-site': 'same-origin' }),
    ).toEqual({
      status: 303,
      setsSession: true,
    })
  })
})
