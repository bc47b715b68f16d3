/**
 * TOTP and recovery codes: enrolment, the checks of the second step, removal and the admin reset.
 * Takes the bindings, not a Hono context, so the routes, the admin API and the CLI share it.
 *
 * Every check of a code is throttled like a password (users/throttle.ts): one reservation per
 * attempt under the subject `totp:<user id>` (and the client address), taken before the secret is
 * opened or a hash compared; a wrong or replayed code keeps it, a right one gives it back.
 * Nothing here logs or audits a code or a secret.
 */

import { loadDataKeys } from '../config/data-keys'
import type { Settings } from '../config/schema'
import { fromBase64Url, toBase64Url } from '../crypto/bytes'
import { openData, SealError, sealData } from '../crypto/data-seal'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { reserveLoginAttempt, throttleSubject } from '../users'
import { newRecoveryCodes, parseRecoveryCode, parseTotpCode, recoveryCodeHash } from './codes'
import {
  claimStep,
  countPasskeys,
  deleteTotp,
  findTotp,
  insertConfirmedTotp,
  replaceRecoveryCodes,
  spendRecoveryCode,
  totpBinding,
  unusedRecoveryCodes,
} from './store'
import { matchingStep, newTotpSecret, secretText, totpKeyUri } from './totp'

export interface SecondFactorStores {
  DB: D1Database
  DATA_KEYS?: string
}

/** What the admin API and the pages may know about a user's factors: never a secret. */
export interface FactorSummary {
  totp: boolean
  recovery_codes_remaining: number
  /** Registered passkeys (src/passkeys): each is a way in and a second step. */
  passkeys: number
  mfa_enabled: boolean
}

export async function factorSummary(
  db: D1Database,
  user: { id: string; mfaEnabled: boolean },
): Promise<FactorSummary> {
  const [totp, remaining, passkeys] = await withStorage('second factors', () =>
    Promise.all([findTotp(db, user.id), unusedRecoveryCodes(db, user.id), countPasskeys(db, user.id)]),
  )
  return {
    totp: totp !== null,
    recovery_codes_remaining: remaining,
    passkeys,
    mfa_enabled: user.mfaEnabled,
  }
}

// --- Enrolment -------------------------------------------------------------------------------

/** How long a setup page's secret may wait for its first code. */
export const ENROLMENT_SECONDS = 600

export interface Enrolment {
  /** base32, to type into an app that cannot scan. */
  secretText: string
  /** `otpauth://` URI for the QR code. */
  uri: string
  /** The form's hidden field: the secret sealed to this user and session, with its time. */
  token: string
}

function enrolmentBinding(userId: string, sessionId: string): string {
  return `totp-enrolment:${userId}:${sessionId}`
}

/**
 * A new secret for the setup page. Nothing is stored until a first code confirms it: the secret
 * travels sealed in the form (bound to this user and session, so it is useless anywhere else),
 * which leaves no half-enrolled rows behind and makes the GET free of writes.
 */
export async function startEnrolment(
  stores: SecondFactorStores,
  input: { userId: string; sessionId: string; issuerName: string; accountName: string; token?: string },
): Promise<Enrolment> {
  const ring = await loadDataKeys(stores.DATA_KEYS)
  // A wrong first code keeps the form's secret (the app already holds it) while the form is valid.
  if (input.token !== undefined) {
    try {
      const secret = await openEnrolment(stores, { ...input, token: input.token }, nowSeconds())
      return {
        secretText: secretText(secret),
        uri: totpKeyUri(input.issuerName, input.accountName, secret),
        token: input.token,
      }
    } catch (error) {
      if (!(error instanceof GatewayError && error.code === 'invalid_request')) throw error
    }
  }
  const secret = newTotpSecret()
  const payload = JSON.stringify({ k: toBase64Url(secret), iat: nowSeconds() })
  return {
    secretText: secretText(secret),
    uri: totpKeyUri(input.issuerName, input.accountName, secret),
    token: await sealData(ring, payload, enrolmentBinding(input.userId, input.sessionId)),
  }
}

function enrolmentExpired(): GatewayError {
  return new GatewayError('invalid_request', 'This setup form has expired. Start again with a new code.')
}

async function openEnrolment(
  stores: SecondFactorStores,
  input: { userId: string; sessionId: string; token: string },
  now: number,
): Promise<Uint8Array> {
  const ring = await loadDataKeys(stores.DATA_KEYS)
  let payload: unknown
  try {
    const bytes = await openData(ring, input.token, enrolmentBinding(input.userId, input.sessionId))
    payload = JSON.parse(new TextDecoder().decode(bytes))
  } catch (error) {
    if (error instanceof SealError || error instanceof SyntaxError) throw enrolmentExpired()
    throw error
  }
  const { k, iat } = (payload ?? {}) as { k?: unknown; iat?: unknown }
  if (typeof k !== 'string' || typeof iat !== 'number' || now - iat > ENROLMENT_SECONDS || iat > now + 60)
    throw enrolmentExpired()
  return fromBase64Url(k)
}

/** Reserves a code attempt for the user (429 `rate_limited` at the limit). */
function reserveCodeAttempt(db: D1Database, settings: Settings, userId: string, ip: string | undefined) {
  return reserveLoginAttempt(db, settings.throttle, {
    account: throttleSubject.secondFactor(userId),
    ip: ip ? throttleSubject.ip(ip) : undefined,
  })
}

export type ConfirmResult =
  | { ok: true; recoveryCodes: string[] }
  | { ok: false; reason: 'wrong_code' | 'exists' }

/**
 * Confirms the setup form's secret with its first code (±1 step, throttled): stores the TOTP with
 * that step already used, ten recovery codes, and turns the second step on.
 */
export async function confirmEnrolment(
  stores: SecondFactorStores,
  settings: Settings,
  input: { userId: string; sessionId: string; token: string; code: string; ip?: string },
): Promise<ConfirmResult> {
  const code = parseTotpCode(input.code)
  const now = nowSeconds()
  const secret = await openEnrolment(stores, input, now)
  const ring = await loadDataKeys(stores.DATA_KEYS)
  const reservation = await reserveCodeAttempt(stores.DB, settings, input.userId, input.ip)
  const step = matchingStep(secret, code, now)
  if (step === undefined) {
    await reservation.failed()
    return { ok: false, reason: 'wrong_code' }
  }
  await reservation.succeeded()
  const recoveryCodes = newRecoveryCodes()
  const stored = await withStorage('enrol totp', async () =>
    insertConfirmedTotp(stores.DB, {
      userId: input.userId,
      sealedSecret: await sealData(ring, secret, totpBinding(input.userId)),
      step,
      recoveryHashes: await Promise.all(recoveryCodes.map(recoveryCodeHash)),
      now,
    }),
  )
  return stored ? { ok: true, recoveryCodes } : { ok: false, reason: 'exists' }
}

// --- The second step -------------------------------------------------------------------------

export type SecondFactorAnswer = { totp: string } | { recoveryCode: string }

export type CheckResult =
  | { ok: true; factor: 'totp' | 'recovery_code' }
  | { ok: false; reason: 'wrong_code' | 'replayed' | 'no_totp' }

async function openSecret(stores: SecondFactorStores, userId: string, sealed: string): Promise<Uint8Array> {
  const ring = await loadDataKeys(stores.DATA_KEYS)
  try {
    return await openData(ring, sealed, totpBinding(userId))
  } catch (error) {
    if (!(error instanceof SealError)) throw error
    // A key dropped from DATA_KEYS too early, or a row that is not this user's: an operator's
    // problem, never the user's wrong code.
    throw new GatewayError('gateway_misconfigured', 'The gateway is misconfigured.', {
      cause: new Error(`TOTP secret of ${userId} does not open: ${error.code}`),
    })
  }
}

/**
 * Checks a TOTP code (±1 step; a step at or before the last used one is a replay) or a recovery
 * code (single use) of a user who has TOTP. Input is parsed first (400), then the attempt reserved
 * (429), then checked.
 */
export async function checkSecondFactor(
  stores: SecondFactorStores,
  settings: Settings,
  input: { userId: string; answer: SecondFactorAnswer; ip?: string },
): Promise<CheckResult> {
  const { userId, answer } = input
  const code = 'totp' in answer ? parseTotpCode(answer.totp) : parseRecoveryCode(answer.recoveryCode)
  const row = await withStorage('totp lookup', () => findTotp(stores.DB, userId))
  if (!row) return { ok: false, reason: 'no_totp' }
  // Fail closed before counting: without DATA_KEYS no code can be checked.
  const secret = 'totp' in answer ? await openSecret(stores, userId, row.secret) : undefined
  const reservation = await reserveCodeAttempt(stores.DB, settings, userId, input.ip)
  const now = nowSeconds()
  let result: CheckResult
  if (secret) {
    const step = matchingStep(secret, code, now)
    if (step === undefined) result = { ok: false, reason: 'wrong_code' }
    else if (await withStorage('totp step', () => claimStep(stores.DB, userId, step, now)))
      result = { ok: true, factor: 'totp' }
    else result = { ok: false, reason: 'replayed' }
  } else {
    const hash = await recoveryCodeHash(code)
    const spent = await withStorage('recovery code', () => spendRecoveryCode(stores.DB, userId, hash, now))
    result = spent ? { ok: true, factor: 'recovery_code' } : { ok: false, reason: 'wrong_code' }
  }
  if (result.ok) await reservation.succeeded()
  else await reservation.failed()
  return result
}

// --- Changes -----------------------------------------------------------------------------------

/** Ten new recovery codes replacing the old ones; undefined when the user has no TOTP. */
export async function regenerateRecoveryCodes(db: D1Database, userId: string): Promise<string[] | undefined> {
  const codes = newRecoveryCodes()
  const hashes = await Promise.all(codes.map(recoveryCodeHash))
  const replaced = await withStorage('recovery codes', () =>
    replaceRecoveryCodes(db, userId, hashes, nowSeconds()),
  )
  return replaced ? codes : undefined
}

/**
 * The user removes their TOTP (and its recovery codes). The second step stays on while another
 * factor (a passkey) remains; else it is off.
 */
export async function removeTotp(
  db: D1Database,
  userId: string,
): Promise<{ removed: boolean; mfaEnabled: boolean }> {
  const keepMfa = (await withStorage('passkeys count', () => countPasskeys(db, userId))) > 0
  const result = await withStorage('remove totp', () =>
    deleteTotp(db, userId, { keepMfa, now: nowSeconds() }),
  )
  return { removed: result.removedTotp, mfaEnabled: keepMfa }
}

/**
 * An admin's reset: the authenticator app and recovery codes go and the second step is off, for a
 * user who lost their phone and codes. Passkeys stay (they are also a way in of their own); an
 * admin removes a lost one with DELETE /admin/users/{id}/passkeys/{passkey_id}.
 */
export async function resetFactors(
  db: D1Database,
  userId: string,
): Promise<{ totpRemoved: boolean; recoveryCodesRemoved: number }> {
  const result = await withStorage('reset factors', () =>
    deleteTotp(db, userId, { keepMfa: false, now: nowSeconds() }),
  )
  return { totpRemoved: result.removedTotp, recoveryCodesRemoved: result.removedCodes }
}
