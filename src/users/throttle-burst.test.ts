import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser, PASSWORD } from '../../test/support/accounts'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { settingsSchema } from '../config/schema'
import { throttleSubject } from './throttle'

// Concurrent bursts: every request of a burst is in flight before any has finished its password
// derivation, which is exactly what a check-then-record throttle cannot count. A response other
// than 429 means the gateway derived (evaluated) the password; the tests count those.
// They measure D1's exact reservation alone, so the rate-limit bindings in front of it
// (src/rate-limit, tested there) are off in every request here: their 10 s windows would cut a
// burst at a point that depends on the wall clock.
const D1_ONLY = { RATE_LIMITING: 'off' }

const DEFAULTS = settingsSchema.parse(env.SETTINGS ?? {}).throttle
type Throttle = typeof DEFAULTS
const BURST = 60
// A backoff no test run can outlast, so only the counts decide (base 2 s could expire mid-burst).
const SLOW_BACKOFF = { account_backoff_base_seconds: 60 }

function settingsWith(throttle: Partial<Throttle>, extra: Record<string, unknown> = {}) {
  return { ...(env.SETTINGS as Record<string, unknown>), ...extra, throttle: { ...DEFAULTS, ...throttle } }
}

function tokenInit(username: string, password: string, ip?: string): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(ip ? { 'cf-connecting-ip': ip } : {}),
    },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  }
}

function passwordGrant(throttle: Partial<Throttle>, username: string, password: string, ip?: string) {
  return fetchWithEnv(
    { ...D1_ONLY, SETTINGS: settingsWith(throttle) },
    '/auth/token',
    tokenInit(username, password, ip),
  )
}

/** Responses by status, bodies drained. */
async function tally(responses: Promise<Response>[]): Promise<Record<number, number>> {
  const counts: Record<number, number> = {}
  for (const response of await Promise.all(responses)) {
    await response.arrayBuffer()
    counts[response.status] = (counts[response.status] ?? 0) + 1
  }
  return counts
}

function burst(count: number, send: (index: number) => Promise<Response>): Promise<Record<number, number>> {
  return tally(Array.from({ length: count }, (_, index) => send(index)))
}

async function failuresRow(subject: string) {
  return env.DB.prepare('SELECT * FROM auth_failures WHERE subject = ?1')
    .bind(subject)
    .first<{ consecutive_failures: number; failures_in_window: number; locked_until: number }>()
}

/** RFC 7617 user-pass, UTF-8, base64. */
function basicHeader(username: string, password: string): string {
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)))}`
}

describe('a concurrent burst of wrong passwords for one account', () => {
  it(`through the Worker with the shipped settings: ${BURST} at once are held to the hourly cap (${DEFAULTS.account_max_failures_per_hour}), not all evaluated`, async () => {
    await createUser('burst-self')
    const counts = await burst(BURST, (i) =>
      fetchWithEnv(D1_ONLY, '/auth/token', tokenInit('burst-self', `wrong guess ${i}`)),
    )
    const evaluated = counts[400] ?? 0
    // The backoff (5 consecutive, then 2 s) normally binds; the hourly cap is what holds even if
    // this machine is slow enough for a 2 s backoff to expire during the burst.
    expect(evaluated).toBeGreaterThanOrEqual(DEFAULTS.account_backoff_after)
    expect(evaluated).toBeLessThanOrEqual(DEFAULTS.account_max_failures_per_hour)
    expect(counts[429]).toBe(BURST - evaluated)
    const row = await failuresRow(throttleSubject.account('burst-self'))
    expect(row?.failures_in_window).toBe(evaluated)
  })

  it(`the backoff threshold (${DEFAULTS.account_backoff_after}) bounds the evaluated guesses exactly`, async () => {
    await createUser('burst-backoff')
    const counts = await burst(BURST, (i) => passwordGrant(SLOW_BACKOFF, 'burst-backoff', `wrong guess ${i}`))
    expect(counts).toEqual({
      400: DEFAULTS.account_backoff_after,
      429: BURST - DEFAULTS.account_backoff_after,
    })
    const row = await failuresRow(throttleSubject.account('burst-backoff'))
    expect(row?.consecutive_failures).toBe(DEFAULTS.account_backoff_after)
    expect(row?.failures_in_window).toBe(DEFAULTS.account_backoff_after)
  })

  it('the hourly cap bounds the evaluated guesses exactly when it is the binding limit', async () => {
    const cap = { account_backoff_after: 100, account_max_failures_per_hour: 7 }
    await createUser('burst-hourly')
    const counts = await burst(BURST, (i) => passwordGrant(cap, 'burst-hourly', `wrong guess ${i}`))
    expect(counts).toEqual({ 400: 7, 429: BURST - 7 })
    expect((await failuresRow(throttleSubject.account('burst-hourly')))?.failures_in_window).toBe(7)
  })

  it('HTTP Basic on a proxied route: the same burst is evaluated at most backoff-threshold times, nothing forwarded', async () => {
    await createUser('burst-basic')
    const routes = [{ path: '/legacy', upstream: 'UPSTREAM_URL', credentials: ['basic'] }]
    const id = testId()
    const overrides = { ...D1_ONLY, ROUTES: routes, SETTINGS: settingsWith(SLOW_BACKOFF) }
    const counts = await burst(BURST, (i) =>
      fetchWithEnv(overrides, '/legacy/x', {
        headers: { authorization: basicHeader('burst-basic', `wrong guess ${i}`), 'x-test-id': id },
      }),
    )
    expect(counts).toEqual({
      401: DEFAULTS.account_backoff_after,
      429: BURST - DEFAULTS.account_backoff_after,
    })
    expect(await upstreamReceived(id)).toEqual([])
  })
})

describe('a concurrent burst from one client address', () => {
  const IP_LIMIT = { ip_max_failures_per_window: 4, account_backoff_after: 100 }

  it('spraying a different username per request: at most ip_max_failures_per_window are evaluated', async () => {
    const counts = await burst(BURST, (i) =>
      passwordGrant(IP_LIMIT, `burst-spray-${i}`, 'Summer2026!', '198.51.100.60'),
    )
    expect(counts).toEqual({ 400: 4, 429: BURST - 4 })
    expect((await failuresRow(throttleSubject.ip('198.51.100.60')))?.failures_in_window).toBe(4)
  })

  it('IPv6: every address of one /64 shares the bucket (spelled any way); another /64 does not', async () => {
    await createUser('burst-v6')
    const sameNet = (i: number) =>
      [`2001:db8:0:1::${(i + 1).toString(16)}`, `2001:DB8:0:1:ffff:${i}::`, `2001:0db8:0000:0001:0:0:0:${i}`][
        i % 3
      ]
    const counts = await burst(30, (i) => passwordGrant(IP_LIMIT, `burst-v6-${i}`, 'wrong', sameNet(i)))
    expect(counts).toEqual({ 400: 4, 429: 26 })
    expect(await (await passwordGrant(IP_LIMIT, 'burst-v6', PASSWORD, '2001:db8:0:1:abcd::9')).status).toBe(
      429,
    )
    // The neighbouring /64 is another customer (RFC 6177: a /64 is one subnet).
    expect((await passwordGrant(IP_LIMIT, 'burst-v6', PASSWORD, '2001:db8:0:2::1')).status).toBe(200)
  })

  it('an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the same client as a.b.c.d', async () => {
    await createUser('burst-mapped')
    for (let i = 0; i < 4; i++) {
      const ip = i % 2 === 0 ? '198.51.100.61' : '::ffff:198.51.100.61'
      expect((await passwordGrant(IP_LIMIT, `burst-mapped-${i}`, 'wrong', ip)).status).toBe(400)
    }
    expect((await passwordGrant(IP_LIMIT, 'burst-mapped', PASSWORD, '::FFFF:c633:643d')).status).toBe(429)
    expect((await passwordGrant(IP_LIMIT, 'burst-mapped', PASSWORD, '198.51.100.62')).status).toBe(200)
  })
})

describe('an attempt refused for its account', () => {
  it('does not count against the client address (the address slot reserved first is given back)', async () => {
    const limits = { ...SLOW_BACKOFF, ip_max_failures_per_window: 10 }
    for (let i = 0; i < DEFAULTS.account_backoff_after; i++) {
      expect((await passwordGrant(limits, 'burst-locked', 'wrong', `198.51.100.${70 + i}`)).status).toBe(400)
    }
    for (let i = 0; i < 3; i++) {
      expect((await passwordGrant(limits, 'burst-locked', 'wrong', '198.51.100.80')).status).toBe(429)
    }
    expect((await failuresRow(throttleSubject.ip('198.51.100.80')))?.failures_in_window).toBe(0)
  })
})

describe('a concurrent burst of registrations from one address', () => {
  it('creates at most register_per_ip_per_window accounts; the rest are 429 before any hashing', async () => {
    const settings = settingsWith({ register_per_ip_per_window: 5 }, { registration: true })
    const counts = await burst(30, (i) =>
      fetchWithEnv({ ...D1_ONLY, SETTINGS: settings }, '/auth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': '2001:db8:9:9::1' },
        body: JSON.stringify({ username: `burst-reg-${i}`, password: 'a fine long passphrase' }),
      }),
    )
    expect(counts).toEqual({ 201: 5, 429: 25 })
    const created = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM users WHERE username LIKE 'burst-reg-%'",
    ).first<{
      n: number
    }>()
    expect(created?.n).toBe(5)
  })
})

describe('a success releases its reservation', () => {
  it('a user logging in correctly more often than the hourly cap is never throttled by their own logins', async () => {
    await createUser('burst-legit')
    const cap = { account_max_failures_per_hour: 3 }
    for (let i = 0; i < 8; i++) {
      expect((await passwordGrant(cap, 'burst-legit', PASSWORD, '198.51.100.63')).status).toBe(200)
    }
    const account = await failuresRow(throttleSubject.account('burst-legit'))
    expect(account?.failures_in_window ?? 0).toBe(0)
    expect((await failuresRow(throttleSubject.ip('198.51.100.63')))?.failures_in_window ?? 0).toBe(0)
  })

  it('after cap - 1 failures, the right password still succeeds, and again after that', async () => {
    await createUser('burst-edge')
    const cap = { account_backoff_after: 100, account_max_failures_per_hour: 4 }
    for (let i = 0; i < 3; i++)
      expect((await passwordGrant(cap, 'burst-edge', `wrong ${i}`)).status).toBe(400)
    expect((await passwordGrant(cap, 'burst-edge', PASSWORD)).status).toBe(200)
    expect((await passwordGrant(cap, 'burst-edge', PASSWORD)).status).toBe(200)
    expect((await failuresRow(throttleSubject.account('burst-edge')))?.failures_in_window).toBe(3)
  })
})
