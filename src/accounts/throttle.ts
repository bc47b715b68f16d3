import type { Settings } from '../config/schema'
import { GatewayError } from '../errors/gateway-error'
import { withStorage } from '../storage/errors'
import { nowSeconds } from '../storage/json'

type ThrottleSettings = Settings['throttle']

const ACCOUNT_WINDOW_SECONDS = 3600
const MAX_BACKOFF_SECONDS = 3600

/** Throttle subjects. Accounts are keyed by the submitted name, lowercased, whether it exists or not. */
export const throttleSubject = {
  account: (username: string) => `account:${username.normalize('NFC').toLowerCase()}`,
  ip: (ip: string) => `ip:${ip}`,
  register: (ip: string) => `register:${ip}`,
}

interface FailureRow {
  subject: string
  window_start: number
  failures_in_window: number
  consecutive_failures: number
  locked_until: number
}

function limited(retryAfter: number): GatewayError {
  return new GatewayError('rate_limited', 'Too many attempts; try again later.', { retryAfter })
}

/** Throws 429 (with Retry-After) when any of the subjects is currently locked. */
export async function assertNotThrottled(db: D1Database, subjects: readonly string[]): Promise<void> {
  if (subjects.length === 0) return
  const now = nowSeconds()
  const placeholders = subjects.map((_, index) => `?${index + 2}`).join(', ')
  const row = await withStorage('throttle check', () =>
    db
      .prepare(
        `SELECT MAX(locked_until) AS locked_until FROM auth_failures WHERE locked_until > ?1 AND subject IN (${placeholders})`,
      )
      .bind(now, ...subjects)
      .first<{ locked_until: number | null }>(),
  )
  if (row?.locked_until) throw limited(row.locked_until - now)
}

function lockUntil(
  row: FailureRow,
  now: number,
  windowSeconds: number,
  maxInWindow: number,
  settings?: ThrottleSettings,
): number {
  let until = 0
  if (row.failures_in_window >= maxInWindow) until = row.window_start + windowSeconds
  if (settings && row.consecutive_failures >= settings.account_backoff_after) {
    const exponent = Math.min(20, row.consecutive_failures - settings.account_backoff_after)
    until = Math.max(
      until,
      now + Math.min(MAX_BACKOFF_SECONDS, settings.account_backoff_base_seconds * 2 ** exponent),
    )
  }
  return until
}

async function countFailure(
  db: D1Database,
  subject: string,
  windowSeconds: number,
  maxInWindow: number,
  backoff?: ThrottleSettings,
): Promise<void> {
  const now = nowSeconds()
  await withStorage('throttle record', async () => {
    // One atomic upsert: concurrent failures each count.
    const row = await db
      .prepare(
        `INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until)
         VALUES (?1, ?2, 1, 1, 0)
         ON CONFLICT(subject) DO UPDATE SET
           failures_in_window = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures_in_window + 1 END,
           window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END,
           consecutive_failures = consecutive_failures + 1
         RETURNING *`,
      )
      .bind(subject, now, windowSeconds)
      .first<FailureRow>()
    if (!row) return
    const until = lockUntil(row, now, windowSeconds, maxInWindow, backoff)
    if (until > row.locked_until) {
      await db
        .prepare('UPDATE auth_failures SET locked_until = MAX(locked_until, ?2) WHERE subject = ?1')
        .bind(subject, until)
        .run()
    }
  })
}

/** A failed credential check: counts against the account (backoff + hourly cap) and the client IP. */
export async function recordAuthFailure(
  db: D1Database,
  settings: ThrottleSettings,
  subjects: { account?: string; ip?: string },
): Promise<void> {
  if (subjects.account) {
    await countFailure(
      db,
      subjects.account,
      ACCOUNT_WINDOW_SECONDS,
      settings.account_max_failures_per_hour,
      settings,
    )
  }
  if (subjects.ip)
    await countFailure(db, subjects.ip, settings.ip_window_seconds, settings.ip_max_failures_per_window)
}

/** A successful login ends the account's backoff (the hourly failure count stays). */
export async function recordAuthSuccess(db: D1Database, account: string): Promise<void> {
  await withStorage('throttle reset', () =>
    db
      .prepare('UPDATE auth_failures SET consecutive_failures = 0, locked_until = 0 WHERE subject = ?1')
      .bind(account)
      .run(),
  )
}

/** Registration attempts per IP: every attempt counts; over the limit → 429. */
export async function countRegistration(
  db: D1Database,
  settings: ThrottleSettings,
  ip: string,
): Promise<void> {
  const subject = throttleSubject.register(ip)
  await assertNotThrottled(db, [subject])
  await countFailure(db, subject, settings.ip_window_seconds, settings.register_per_ip_per_window)
}
