/**
 * `auth_failures`: throttling counters per subject (an account name, a client address bucket, a
 * registration bucket). See docs/storage-schema.md.
 *
 * Every statement that decides is a single statement, because D1 runs each statement atomically on
 * one primary: a check in one statement and a count in another lets a concurrent burst pass the
 * check many times before any count lands. So an attempt is *reserved* before the expensive work:
 * one UPSERT counts it and, in its WHERE clause, decides whether it may proceed; `RETURNING` tells
 * the caller which happened (a refused upsert changes and returns nothing).
 *
 * A reservation is counted exactly like a failure (window count and consecutive count, backoff
 * lock included). The caller gives it back on success (`releaseAttempt`). A reservation that is
 * never given back, because the worker died or storage failed in between, stays a failure: the
 * safe direction, and bounded by the window like any failure.
 */

/** The most a backoff lock lasts, whatever the exponent. */
export const MAX_BACKOFF_SECONDS = 3600
// 2^20 times the largest base is far past MAX_BACKOFF_SECONDS; the cap keeps the shift in range.
const MAX_BACKOFF_EXPONENT = 20

/** Exponential lock after `after` consecutive failures: base, 2 × base, 4 × base... */
export interface Backoff {
  after: number
  baseSeconds: number
}

export interface AttemptLimit {
  /** Length of the counting window; a window starts at the first attempt after the last one ended. */
  windowSeconds: number
  /** Attempts (in flight + failed) a window admits. */
  maxInWindow: number
  /** Exponential lock after this many consecutive failures (accounts only). */
  backoff?: Backoff
}

export interface FailureRow {
  subject: string
  window_start: number
  failures_in_window: number
  consecutive_failures: number
  locked_until: number
}

/** SQL for "now + base * 2^(consecutive - after), at most the cap", given the placeholders. */
function backoffLock(consecutive: string, p: { now: string; after: string; base: string; cap: string }) {
  return `${p.now} + MIN(${p.cap}, ${p.base} * (1 << MIN(${MAX_BACKOFF_EXPONENT}, ${consecutive} - ${p.after})))`
}
const RESERVE_PARAMS = { now: '?2', after: '?5', base: '?6', cap: '?7' }

// In DO UPDATE, unqualified columns are the row as it was before this statement (SQLite upsert),
// so every SET expression and the WHERE see the same old values.
const RESERVE_SQL = `
INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until)
VALUES (?1, ?2, 1, 1, CASE WHEN ?5 IS NOT NULL AND 1 >= ?5 THEN ${backoffLock('1', RESERVE_PARAMS)} ELSE 0 END)
ON CONFLICT(subject) DO UPDATE SET
  failures_in_window = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures_in_window + 1 END,
  window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END,
  consecutive_failures = consecutive_failures + 1,
  locked_until = CASE WHEN ?5 IS NOT NULL AND consecutive_failures + 1 >= ?5
    THEN MAX(locked_until, ${backoffLock('(consecutive_failures + 1)', RESERVE_PARAMS)})
    ELSE locked_until END
WHERE locked_until <= ?2 AND (window_start <= ?2 - ?3 OR failures_in_window < ?4)
RETURNING subject`

/**
 * Counts one attempt for `subject` at `now` if the subject is neither locked nor at its window's
 * limit; true when counted (the attempt may proceed), false when refused (nothing was counted).
 */
export async function reserveAttempt(
  db: D1Database,
  subject: string,
  limit: AttemptLimit,
  now: number,
): Promise<boolean> {
  const row = await db
    .prepare(RESERVE_SQL)
    .bind(
      subject,
      now,
      limit.windowSeconds,
      limit.maxInWindow,
      limit.backoff?.after ?? null,
      limit.backoff?.baseSeconds ?? null,
      MAX_BACKOFF_SECONDS,
    )
    .first<{ subject: string }>()
  return row !== null
}

// Gives the window slot back only if the window is still the one the reservation counted in: a
// window that started after `reservedAt` (?2) never held it.
const GIVE_BACK_SLOT = `failures_in_window = CASE WHEN window_start <= ?2
  THEN MAX(0, failures_in_window - 1) ELSE failures_in_window END`

/** Undoes a reservation that will not be evaluated (another subject refused the attempt). */
export function refundAttemptStatement(
  db: D1Database,
  subject: string,
  reservedAt: number,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE auth_failures SET ${GIVE_BACK_SLOT}, consecutive_failures = MAX(0, consecutive_failures - 1)
       WHERE subject = ?1`,
    )
    .bind(subject, reservedAt)
}

/**
 * A success: gives the slot back (a success never counts against the window, so a user is never
 * throttled by their own logins) and ends the backoff (consecutive failures start again at zero,
 * as a sequential success always did). Failures of other attempts stay in the window's count.
 */
export function releaseAttemptStatement(
  db: D1Database,
  subject: string,
  reservedAt: number,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE auth_failures SET ${GIVE_BACK_SLOT}, consecutive_failures = 0, locked_until = 0
       WHERE subject = ?1`,
    )
    .bind(subject, reservedAt)
}

const EXTEND_PARAMS = { now: '?2', after: '?3', base: '?4', cap: '?5' }

/**
 * A failure keeps its reservation; this restarts the backoff lock from the moment the failure was
 * known (the reservation set it from the moment the attempt began), as a sequential failure did.
 */
export async function extendBackoff(
  db: D1Database,
  subject: string,
  backoff: Backoff,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE auth_failures SET locked_until = MAX(locked_until, ${backoffLock('consecutive_failures', EXTEND_PARAMS)})
       WHERE subject = ?1 AND consecutive_failures >= ?3`,
    )
    .bind(subject, now, backoff.after, backoff.baseSeconds, MAX_BACKOFF_SECONDS)
    .run()
}

/** Seconds until `subject` admits an attempt again (for Retry-After); at least 1. */
export async function secondsUntilAdmitted(
  db: D1Database,
  subject: string,
  limit: AttemptLimit,
  now: number,
): Promise<number> {
  const row = await db
    .prepare('SELECT * FROM auth_failures WHERE subject = ?1')
    .bind(subject)
    .first<FailureRow>()
  if (!row) return 1
  const windowEnd = row.window_start + limit.windowSeconds
  const full = row.failures_in_window >= limit.maxInWindow && windowEnd > now
  return Math.max(1, Math.max(row.locked_until, full ? windowEnd : 0) - now)
}
