import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser, PASSWORD, tokenRequest } from '../../test/support/accounts'
import { fetchWithEnv } from '../../test/support/gateway'
import { settingsSchema } from '../config/schema'
import { setUserDisabled } from './store'
import { throttleSubject } from './throttle'

const SETTINGS = settingsSchema.parse(env.SETTINGS ?? {})
const DEFAULTS = SETTINGS.throttle
type Throttle = typeof DEFAULTS

// A base long enough that a slow test machine cannot outlast the backoff between two requests.
const SLOW_BACKOFF = { account_backoff_base_seconds: 60 }

/** A password-grant login through a fresh app whose SETTINGS.throttle is `throttle`. */
function attempt(
  throttle: Partial<Throttle>,
  username: string,
  password: string,
  ip?: string,
): Promise<Response> {
  const settings = { ...(env.SETTINGS as Record<string, unknown>), throttle: { ...DEFAULTS, ...throttle } }
  return fetchWithEnv({ SETTINGS: settings }, '/auth/token', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(ip ? { 'cf-connecting-ip': ip } : {}),
    },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  })
}

async function statusOf(response: Promise<Response>): Promise<number> {
  const settled = await response
  await settled.body?.cancel()
  return settled.status
}

/** Status, headers without x-request-id, body without request_id: what must not differ. */
async function observable(response: Response) {
  const headers = Object.fromEntries([...response.headers].filter(([name]) => name !== 'x-request-id'))
  const { request_id: requestId, ...body } = (await response.json()) as Record<string, unknown>
  expect(typeof requestId).toBe('string')
  return { status: response.status, headers, body }
}

async function failuresRow(subject: string) {
  return env.DB.prepare('SELECT * FROM auth_failures WHERE subject = ?1')
    .bind(subject)
    .first<{ consecutive_failures: number; failures_in_window: number; locked_until: number }>()
}

describe('per-account backoff', () => {
  it(`answers 429 with Retry-After after account_backoff_after (${DEFAULTS.account_backoff_after}) consecutive wrong passwords, even for the right one`, async () => {
    await createUser('th-backoff')
    for (let i = 0; i < DEFAULTS.account_backoff_after; i++) {
      expect(await statusOf(attempt(SLOW_BACKOFF, 'th-backoff', `wrong guess ${i}`))).toBe(400)
    }
    const locked = await attempt(SLOW_BACKOFF, 'th-backoff', PASSWORD)
    expect(locked.status).toBe(429)
    expect(await locked.json()).toMatchObject({ error: 'rate_limited' })
    const retryAfter = Number(locked.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
  })

  it('keeps the lockout in D1 (auth_failures), so every isolate and instance sees it', async () => {
    await createUser('th-persisted')
    for (let i = 0; i < DEFAULTS.account_backoff_after; i++) {
      await statusOf(attempt(SLOW_BACKOFF, 'th-persisted', 'wrong guess'))
    }
    const row = await failuresRow(throttleSubject.account('th-persisted'))
    expect(row?.consecutive_failures).toBe(DEFAULTS.account_backoff_after)
    expect(row?.locked_until).toBeGreaterThan(Date.now() / 1000)
    // Removing the row (the stored state) is what lifts the lock: nothing is kept in memory.
    await env.DB.prepare('DELETE FROM auth_failures WHERE subject = ?1')
      .bind(throttleSubject.account('th-persisted'))
      .run()
    expect(await statusOf(attempt(SLOW_BACKOFF, 'th-persisted', PASSWORD))).toBe(200)
  })

  it('counts a username in any letter case as the same account (TH-CASE vs th-case)', async () => {
    await createUser('th-case')
    for (let i = 0; i < DEFAULTS.account_backoff_after; i++) {
      const name = i % 2 === 0 ? 'TH-CASE' : 'th-Case'
      expect(await statusOf(attempt(SLOW_BACKOFF, name, 'wrong guess'))).toBe(400)
    }
    expect(await statusOf(attempt(SLOW_BACKOFF, 'th-case', PASSWORD))).toBe(429)
  })

  it('answers the same 429 for an existing and a non-existing username', async () => {
    await createUser('th-exists')
    for (const name of ['th-exists', 'th-never-existed']) {
      for (let i = 0; i < DEFAULTS.account_backoff_after; i++) {
        expect(await statusOf(attempt(SLOW_BACKOFF, name, 'wrong guess'))).toBe(400)
      }
    }
    const existing = await observable(await attempt(SLOW_BACKOFF, 'th-exists', 'wrong guess'))
    const missing = await observable(await attempt(SLOW_BACKOFF, 'th-never-existed', 'wrong guess'))
    expect(existing.status).toBe(429)
    // Retry-After counts down in whole seconds: the two may straddle a second boundary.
    const delta = Number(existing.headers['retry-after']) - Number(missing.headers['retry-after'])
    expect(Math.abs(delta)).toBeLessThanOrEqual(1)
    delete existing.headers['retry-after']
    delete missing.headers['retry-after']
    expect(missing).toEqual(existing)
  })

  it('resets the backoff on a successful login (consecutive failures start again from zero)', async () => {
    await createUser('th-reset')
    const before = DEFAULTS.account_backoff_after - 1
    for (let i = 0; i < before; i++) await statusOf(attempt(SLOW_BACKOFF, 'th-reset', 'wrong guess'))
    expect(await statusOf(attempt(SLOW_BACKOFF, 'th-reset', PASSWORD))).toBe(200)
    expect((await failuresRow(throttleSubject.account('th-reset')))?.consecutive_failures).toBe(0)
    // Without the reset, these would make backoff_after + 1 consecutive failures and lock the account.
    for (let i = 0; i < before; i++) {
      expect(await statusOf(attempt(SLOW_BACKOFF, 'th-reset', 'wrong guess'))).toBe(400)
    }
    expect(await statusOf(attempt(SLOW_BACKOFF, 'th-reset', PASSWORD))).toBe(200)
  })
})

describe('per-account hourly cap', () => {
  // Backoff out of the way so that only the hourly window decides.
  const CAP = { account_backoff_after: 100, account_max_failures_per_hour: 6 }

  it('answers 429 once the failures in the hour reach the cap; a success in between does not reset it', async () => {
    await createUser('th-hourly')
    for (let i = 0; i < 3; i++) expect(await statusOf(attempt(CAP, 'th-hourly', 'wrong guess'))).toBe(400)
    expect(await statusOf(attempt(CAP, 'th-hourly', PASSWORD))).toBe(200)
    for (let i = 0; i < 3; i++) expect(await statusOf(attempt(CAP, 'th-hourly', 'wrong guess'))).toBe(400)
    const capped = await attempt(CAP, 'th-hourly', PASSWORD)
    expect(capped.status).toBe(429)
    // Locked until the hour window ends, not for a short backoff.
    expect(Number(capped.headers.get('retry-after'))).toBeGreaterThan(3000)
    expect(Number(capped.headers.get('retry-after'))).toBeLessThanOrEqual(3600)
  })

  it('cannot be configured above 100 failures per hour (the gateway refuses the config)', async () => {
    const response = await attempt({ account_max_failures_per_hour: 101 }, 'th-anyone', 'wrong guess')
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'gateway_misconfigured' })
  })
})

describe('per-IP failures', () => {
  const IP_LIMIT = { ip_max_failures_per_window: 4, account_backoff_after: 100 }

  it('answers 429 to an IP that fails across many usernames, but not to another IP', async () => {
    await createUser('th-ip-victim')
    for (let i = 0; i < IP_LIMIT.ip_max_failures_per_window; i++) {
      expect(await statusOf(attempt(IP_LIMIT, `th-spray-${i}`, 'Summer2026!', '198.51.100.10'))).toBe(400)
    }
    const blocked = await attempt(IP_LIMIT, 'th-ip-victim', PASSWORD, '198.51.100.10')
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await statusOf(attempt(IP_LIMIT, 'th-ip-victim', PASSWORD, '198.51.100.11'))).toBe(200)
    const row = await failuresRow(throttleSubject.ip('198.51.100.10'))
    expect(row?.failures_in_window).toBe(IP_LIMIT.ip_max_failures_per_window)
  })

  it('does not count successful logins against the IP', async () => {
    await createUser('th-ip-busy')
    const ip = '198.51.100.20'
    // Many users behind one NAT logging in successfully must not lock the IP.
    for (let i = 0; i < IP_LIMIT.ip_max_failures_per_window + 2; i++) {
      expect(await statusOf(attempt(IP_LIMIT, 'th-ip-busy', PASSWORD, ip))).toBe(200)
    }
    for (let i = 0; i < IP_LIMIT.ip_max_failures_per_window - 1; i++) {
      expect(await statusOf(attempt(IP_LIMIT, 'th-ip-busy', 'wrong guess', ip))).toBe(400)
    }
    expect(await statusOf(attempt(IP_LIMIT, 'th-ip-busy', PASSWORD, ip))).toBe(200)
    expect((await failuresRow(throttleSubject.ip(ip)))?.failures_in_window).toBe(
      IP_LIMIT.ip_max_failures_per_window - 1,
    )
  })
})

describe('no account oracle', () => {
  it('answers unknown user, wrong password and disabled account identically (minus the request id)', async () => {
    await createUser('th-oracle-wrong')
    await createUser('th-oracle-disabled')
    await setUserDisabled(env.DB, 'th-oracle-disabled', true)
    const responses = [
      await tokenRequest({ grant_type: 'password', username: 'th-oracle-nobody', password: PASSWORD }),
      await tokenRequest({ grant_type: 'password', username: 'th-oracle-wrong', password: 'not it at all' }),
      // The disabled account's own, correct password.
      await tokenRequest({ grant_type: 'password', username: 'th-oracle-disabled', password: PASSWORD }),
    ]
    const [unknown, wrong, disabled] = await Promise.all(responses.map(observable))
    expect(unknown?.status).toBe(400)
    expect(unknown?.body).toEqual({
      error: 'invalid_grant',
      error_description: 'The username or password is incorrect.',
    })
    expect(wrong).toEqual(unknown)
    expect(disabled).toEqual(unknown)
  })
})
