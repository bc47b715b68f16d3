import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  type AttemptLimit,
  extendBackoff,
  type FailureRow,
  MAX_BACKOFF_SECONDS,
  releaseAttemptStatement,
  reserveAttempt,
  secondsUntilAdmitted,
} from './throttle-store'

// The statements at chosen instants (`now` is a parameter), against the real D1 schema.
const T = 1_900_000_000
const WINDOW: AttemptLimit = { windowSeconds: 600, maxInWindow: 3 }
const ACCOUNT: AttemptLimit = {
  windowSeconds: 3600,
  maxInWindow: 100,
  backoff: { after: 2, baseSeconds: 10 },
}

async function row(subject: string) {
  const query = env.DB.prepare('SELECT * FROM auth_failures WHERE subject = ?1')
  return query.bind(subject).first<FailureRow>()
}

describe('reserveAttempt', () => {
  it('admits maxInWindow attempts in a window, refuses the next without counting it, and admits again in the next window', async () => {
    const results = []
    for (let i = 0; i < 5; i++) results.push(await reserveAttempt(env.DB, 'af:window', WINDOW, T + i))
    expect(results).toEqual([true, true, true, false, false])
    expect((await row('af:window'))?.failures_in_window).toBe(3)
    expect(await secondsUntilAdmitted(env.DB, 'af:window', WINDOW, T + 100)).toBe(500)
    expect(await reserveAttempt(env.DB, 'af:window', WINDOW, T + 600)).toBe(true)
    expect(await row('af:window')).toMatchObject({ window_start: T + 600, failures_in_window: 1 })
  })

  it('sets the backoff lock when the reservation reaches the threshold, doubling per attempt, never beyond the maximum', async () => {
    expect(await reserveAttempt(env.DB, 'af:backoff', ACCOUNT, T)).toBe(true)
    expect((await row('af:backoff'))?.locked_until).toBe(0)
    expect(await reserveAttempt(env.DB, 'af:backoff', ACCOUNT, T)).toBe(true)
    expect((await row('af:backoff'))?.locked_until).toBe(T + 10)
    expect(await reserveAttempt(env.DB, 'af:backoff', ACCOUNT, T + 5)).toBe(false)
    expect(await reserveAttempt(env.DB, 'af:backoff', ACCOUNT, T + 10)).toBe(true)
    expect((await row('af:backoff'))?.locked_until).toBe(T + 10 + 20)
    await env.DB.prepare(
      'UPDATE auth_failures SET consecutive_failures = 60, locked_until = 0 WHERE subject = ?1',
    )
      .bind('af:backoff')
      .run()
    expect(await reserveAttempt(env.DB, 'af:backoff', ACCOUNT, T + 40)).toBe(true)
    expect((await row('af:backoff'))?.locked_until).toBe(T + 40 + MAX_BACKOFF_SECONDS)
  })

  it('locks on the very first attempt when the threshold is 1 (the insert path)', async () => {
    const strict = { ...ACCOUNT, backoff: { after: 1, baseSeconds: 10 } }
    expect(await reserveAttempt(env.DB, 'af:first', strict, T)).toBe(true)
    expect((await row('af:first'))?.locked_until).toBe(T + 10)
  })
})

describe('release and backoff after the outcome', () => {
  it('a release gives the slot back to the window it was counted in, not to a window started since', async () => {
    await reserveAttempt(env.DB, 'af:roll', WINDOW, T)
    await reserveAttempt(env.DB, 'af:roll', WINDOW, T + 600) // a new window; the first slot is gone with the old one
    await releaseAttemptStatement(env.DB, 'af:roll', T).run()
    expect((await row('af:roll'))?.failures_in_window).toBe(1)
    await releaseAttemptStatement(env.DB, 'af:roll', T + 600).run()
    expect((await row('af:roll'))?.failures_in_window).toBe(0)
  })

  it('a failure restarts the lock from the moment it was known', async () => {
    await reserveAttempt(env.DB, 'af:extend', ACCOUNT, T)
    await reserveAttempt(env.DB, 'af:extend', ACCOUNT, T)
    await extendBackoff(env.DB, 'af:extend', { after: 2, baseSeconds: 10 }, T + 3)
    expect((await row('af:extend'))?.locked_until).toBe(T + 13)
  })
})
