import type { AuditSink } from '../audit'
import type { Settings } from '../config/schema'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import { limitRequest, type RateLimitEnv } from '../rate-limit'
import { dummyVerify, hashPassword, verifyPassword } from './password-hash'
import { findUserByUsername, type User, updatePasswordHash } from './store'
import { reserveLoginAttempt, throttleSubject } from './throttle'

/** `c.env` is one; the rate-limit bindings are optional (rate-limit/limit.ts fails open). */
export interface LoginStores extends RateLimitEnv {
  DB: D1Database
  PASSWORD_PEPPER?: string
}

export interface LoginAttempt {
  username: string
  password: string
  /** `CF-Connecting-IP`, when known. */
  ip?: string
  /** Where login_succeeded / login_failed / throttled go (src/audit), with how the login came. */
  audit?: AuditSink
  via?: 'password_grant' | 'form' | 'basic' | 'password_change'
  /**
   * The id of a valid device cookie for this username (sessions/device-cookie.ts), checked by the
   * caller: the attempt counts per device, not per account, in both layers, so a flood of wrong
   * passwords for the account from elsewhere cannot lock this device out.
   */
  device?: string
}

const MAX_USERNAME_LENGTH = 256

/** The one answer for unknown user, wrong password and disabled account (no account oracle). */
export function badCredentials(code: 'invalid_grant' | 'invalid_credentials'): GatewayError {
  return new GatewayError(
    code,
    'The username or password is incorrect.',
    code === 'invalid_credentials' ? { challenge: { scheme: 'Basic' } } : {},
  )
}

/**
 * Checks a username and password with throttling in two layers: first the rate-limit bindings
 * (per address, per account or known device, and the global ceiling; a refusal touches no D1),
 * then the exact D1 reservation against the account (by submitted name, existing or not; or the
 * known device) and the client address before anything is derived, so a concurrent burst is
 * evaluated no more often than the limits allow; an unknown name still costs one derivation; a
 * success rehashes legacy or weaker hashes and does not count against the IP.
 */
export async function verifyLogin(
  stores: LoginStores,
  settings: Settings,
  attempt: LoginAttempt,
  failure: 'invalid_grant' | 'invalid_credentials',
): Promise<User> {
  // Not audited when refused: the audit batch is a D1 write, and a flood must not reach D1.
  await limitRequest(stores, {
    kind: 'password',
    ip: attempt.ip,
    username: attempt.username,
    device: attempt.device,
  })
  const account = attempt.device
    ? throttleSubject.device(attempt.device)
    : throttleSubject.account(attempt.username.slice(0, MAX_USERNAME_LENGTH))
  const ip = attempt.ip ? throttleSubject.ip(attempt.ip) : undefined
  // Until settled below, the reservation counts as a failure: if the lookup or the derivation
  // throws, it stays one (fail closed, bounded by the window).
  let reservation: Awaited<ReturnType<typeof reserveLoginAttempt>>
  try {
    reservation = await reserveLoginAttempt(stores.DB, settings.throttle, { account, ip })
  } catch (error) {
    // The submitted name is not recorded: people type passwords into username fields.
    if (error instanceof GatewayError && error.code === 'rate_limited')
      attempt.audit?.record({ type: 'throttled', outcome: 'failure', details: { via: attempt.via } })
    throw error
  }
  const pepper = { pepper: stores.PASSWORD_PEPPER || undefined }
  const user =
    attempt.username.length > 0 && attempt.username.length <= MAX_USERNAME_LENGTH
      ? await withStorage('user lookup', () => findUserByUsername(stores.DB, attempt.username))
      : undefined
  const result = user
    ? await verifyPassword(attempt.password, user.passwordHash, pepper)
    : await dummyVerify(attempt.password, pepper)
  if (!user || !result.ok || user.disabled) {
    await reservation.failed()
    attempt.audit?.record({
      type: 'login_failed',
      outcome: 'failure',
      subjectId: user?.id,
      details: {
        via: attempt.via,
        reason: !user ? 'unknown_user' : user.disabled ? 'disabled' : 'bad_password',
      },
    })
    throw badCredentials(failure)
  }
  await reservation.succeeded()
  // Basic authenticates every proxied request: its successes belong to request logs, not to D1.
  if (attempt.via !== 'basic')
    attempt.audit?.record({
      type: 'login_succeeded',
      actorId: user.id,
      subjectId: user.id,
      details: { via: attempt.via, username: user.username },
    })
  if (result.needsRehash) {
    const rehashed = await hashPassword(attempt.password, pepper)
    await withStorage('password rehash', () => updatePasswordHash(stores.DB, user.id, rehashed, false))
  }
  return user
}

/**
 * For ways in that check only a password (the password grant, Basic): a user with a second factor
 * is refused with `refusal`, audited, since letting them through would skip the factor.
 */
export function assertNoSecondFactor(
  user: Pick<User, 'id' | 'mfaEnabled'>,
  attempt: Pick<LoginAttempt, 'audit' | 'via'> & { clientId?: string },
  refusal: GatewayError,
): void {
  if (!user.mfaEnabled) return
  attempt.audit?.record({
    type: 'mfa_required_refused',
    outcome: 'failure',
    actorId: user.id,
    subjectId: user.id,
    clientId: attempt.clientId,
    details: { via: attempt.via },
  })
  throw refusal
}
