/**
 * Throttling of password checks and registrations, held under concurrency.
 *
 * Each attempt reserves its place in D1 before the password derivation or the hash (one atomic
 * statement per subject, users/throttle-store.ts), so however many requests arrive at once, no
 * more are evaluated than the limits admit: the account's backoff threshold and hourly cap, and
 * the client address's window. A reservation counts as a failure until the outcome is known;
 * a success gives it back, a failure keeps it.
 *
 * The consequence a legitimate client can see: concurrent attempts for one account count while in
 * flight, so more than `account_backoff_after` simultaneous logins (or Basic requests) of one
 * account get 429 for the excess until the earlier ones succeed. Sequential use is unaffected.
 */
import type { Settings } from '../config/schema'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { accountName, addressBucket } from '../rate-limit'
import {
  type AttemptLimit,
  type Backoff,
  extendBackoff,
  refundAttemptStatement,
  releaseAttemptStatement,
  reserveAttempt,
  secondsUntilAdmitted,
} from './throttle-store'

type ThrottleSettings = Settings['throttle']

const ACCOUNT_WINDOW_SECONDS = 3600

/**
 * Throttle subjects. Accounts are keyed by the submitted name, lowercased, whether it exists or
 * not; client addresses by their bucket (an IPv6 client by its /64, see rate-limit/client-address.ts).
 */
export const throttleSubject = {
  account: (username: string) => `account:${accountName(username)}`,
  /**
   * A known device (a valid device cookie for the submitted name, sessions/device-cookie.ts): its
   * attempts count here instead of under the account, so others' failures cannot lock it out.
   */
  device: (deviceId: string) => `device:${deviceId}`,
  ip: (ip: string) => `ip:${addressBucket(ip)}`,
  register: (ip: string) => `register:${addressBucket(ip)}`,
  clientRegistration: (ip: string) => `client-registration:${addressBucket(ip)}`,
  /** Second-factor codes (TOTP and recovery codes) of one user, counted like an account's passwords. */
  secondFactor: (userId: string) => `totp:${userId}`,
  emailAddress: (email: string) => `email:${email.toLowerCase()}`,
  emailIp: (ip: string) => `email-ip:${addressBucket(ip)}`,
  /** Checks of emailed sign-in codes, per submitted address and per client address. */
  emailCode: (email: string) => `email-code:${email.toLowerCase()}`,
  emailCodeIp: (ip: string) => `email-code-ip:${addressBucket(ip)}`,
}

function accountLimit(settings: ThrottleSettings): AttemptLimit & { backoff: Backoff } {
  return {
    windowSeconds: ACCOUNT_WINDOW_SECONDS,
    maxInWindow: settings.account_max_failures_per_hour,
    backoff: { after: settings.account_backoff_after, baseSeconds: settings.account_backoff_base_seconds },
  }
}

function addressLimit(settings: ThrottleSettings): AttemptLimit {
  return { windowSeconds: settings.ip_window_seconds, maxInWindow: settings.ip_max_failures_per_window }
}

function limited(retryAfter: number): GatewayError {
  return new GatewayError('rate_limited', 'Too many attempts; try again later.', { retryAfter })
}

/** Reserves one attempt for `subject` or throws 429 with Retry-After. */
async function reserveOrThrow(
  db: D1Database,
  subject: string,
  limit: AttemptLimit,
  now: number,
): Promise<void> {
  const admitted = await withStorage('throttle reserve', () => reserveAttempt(db, subject, limit, now))
  if (admitted) return
  // Read after the refusal, only to say how long: the decision itself was the atomic statement.
  throw limited(await withStorage('throttle read', () => secondsUntilAdmitted(db, subject, limit, now)))
}

/** A reserved password check; exactly one of these is called once the outcome is known. */
export interface LoginReservation {
  /** Right credentials: both slots are given back and the account's backoff ends. */
  succeeded(): Promise<void>
  /** Wrong credentials (or a disabled account): the slots stay counted; the backoff restarts now. */
  failed(): Promise<void>
}

/**
 * Reserves a password check for the account (by submitted name) and, when known, the client
 * address; throws 429 when either is at its limit. Nothing is derived before this returns.
 */
export async function reserveLoginAttempt(
  db: D1Database,
  settings: ThrottleSettings,
  subjects: { account: string; ip?: string },
): Promise<LoginReservation> {
  const now = nowSeconds()
  const { account, ip } = subjects
  const limit = accountLimit(settings)
  // The address goes first: a refusal there counted nothing. If the account then refuses, only the
  // address slot must be given back, and it carries no backoff lock, so the refund is exact (a
  // refused account after an admitted address would leave an account lock no refund could undo).
  if (ip) await reserveOrThrow(db, ip, addressLimit(settings), now)
  try {
    await reserveOrThrow(db, account, limit, now)
  } catch (error) {
    if (ip && error instanceof GatewayError && error.code === 'rate_limited') {
      await withStorage('throttle refund', () => refundAttemptStatement(db, ip, now).run())
    }
    throw error
  }
  return {
    async succeeded() {
      // Successful logins never count against the address (many users behind one NAT), and the
      // hourly count keeps only failures, so a user is not throttled by their own logins.
      const statements = [releaseAttemptStatement(db, account, now)]
      if (ip) statements.push(refundAttemptStatement(db, ip, now))
      await withStorage('throttle release', () => db.batch(statements))
    },
    async failed() {
      await withStorage('throttle backoff', () => extendBackoff(db, account, limit.backoff, nowSeconds()))
    },
  }
}

/**
 * Registrations per client address: every attempt counts (success or not), reserved before the
 * request body is read or any password hashed; over the limit → 429.
 */
export async function reserveRegistration(
  db: D1Database,
  settings: ThrottleSettings,
  ip: string,
): Promise<void> {
  const limit = {
    windowSeconds: settings.ip_window_seconds,
    maxInWindow: settings.register_per_ip_per_window,
  }
  await reserveOrThrow(db, throttleSubject.register(ip), limit, nowSeconds())
}

const CLIENT_REGISTRATION_WINDOW_SECONDS = 3600

/**
 * RFC 7591 client registrations per client address per hour: every attempt counts, as for
 * account registration, reserved before the body is read; over the limit → 429.
 */
export async function reserveClientRegistration(db: D1Database, perHour: number, ip: string): Promise<void> {
  const limit = { windowSeconds: CLIENT_REGISTRATION_WINDOW_SECONDS, maxInWindow: perHour }
  await reserveOrThrow(db, throttleSubject.clientRegistration(ip), limit, nowSeconds())
}

const EMAIL_WINDOW_SECONDS = 3600

interface HourlyLimits {
  perAddressPerHour: number
  perIpPerHour: number
}

/** One slot per hour for the client address, then for the submitted one (the client first, as for logins). */
async function reserveHourly(
  db: D1Database,
  limits: HourlyLimits,
  keys: { email?: string; ip?: string },
): Promise<void> {
  const now = nowSeconds()
  if (keys.ip) {
    const limit = { windowSeconds: EMAIL_WINDOW_SECONDS, maxInWindow: limits.perIpPerHour }
    await reserveOrThrow(db, keys.ip, limit, now)
  }
  if (keys.email) {
    const limit = { windowSeconds: EMAIL_WINDOW_SECONDS, maxInWindow: limits.perAddressPerHour }
    await reserveOrThrow(db, keys.email, limit, now)
  }
}

/**
 * Requests that send mail (reset, sign-in link or code, resend of a verification): every request
 * counts, per submitted address whether or not a user has it (so the answer cannot tell) and per
 * client address; over either limit → 429. The address goes first, as for logins.
 */
export function reserveEmailRequest(
  db: D1Database,
  limits: HourlyLimits,
  subjects: { email?: string; ip?: string },
): Promise<void> {
  return reserveHourly(db, limits, {
    email: subjects.email && throttleSubject.emailAddress(subjects.email),
    ip: subjects.ip && throttleSubject.emailIp(subjects.ip),
  })
}

/**
 * Checks of an emailed sign-in code: every check counts (right or wrong, known address or not),
 * per submitted address and per client address, reserved before the lookup; over either → 429.
 * The per-code cap (token-store.ts) is the exact limit; this bounds guessing across codes.
 */
export function reserveEmailCodeCheck(
  db: D1Database,
  limits: HourlyLimits,
  subjects: { email: string; ip?: string },
): Promise<void> {
  return reserveHourly(db, limits, {
    email: throttleSubject.emailCode(subjects.email),
    ip: subjects.ip && throttleSubject.emailCodeIp(subjects.ip),
  })
}
