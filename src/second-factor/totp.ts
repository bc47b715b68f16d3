/**
 * TOTP (RFC 6238) as every authenticator app speaks it: HMAC-SHA-1, 30-second steps, 6 digits, a
 * 160-bit key (RFC 4226 §4 R6). The arithmetic is @oslojs/otp's; this module decides which step a
 * code belongs to, because the replay guard (store.ts) records steps, not codes.
 *
 * Pure: no storage, no Hono.
 */
import { encodeBase32NoPadding } from '@oslojs/encoding'
import { createTOTPKeyURI, verifyHOTP } from '@oslojs/otp'
import { randomBytes } from '../crypto/bytes'

export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
/** RFC 4226 §4 R6 asks for at least 128 bits and recommends 160. */
const SECRET_BYTES = 20
/** One step either side (RFC 6238 §5.2): a phone clock 30 s off, or a code typed as it turned. */
const WINDOW_STEPS = 1

export function newTotpSecret(): Uint8Array {
  return randomBytes(SECRET_BYTES)
}

/** The secret as an authenticator app asks for it when typed in: base32 without padding. */
export function secretText(secret: Uint8Array): string {
  return encodeBase32NoPadding(secret)
}

/** The `otpauth://totp/...` URI the QR code carries. */
export function totpKeyUri(issuer: string, accountName: string, secret: Uint8Array): string {
  return createTOTPKeyURI(issuer, accountName, secret, TOTP_PERIOD_SECONDS, TOTP_DIGITS)
}

export function stepAt(nowSeconds: number): number {
  return Math.floor(nowSeconds / TOTP_PERIOD_SECONDS)
}

/**
 * The time step `code` is valid for within ±1 step of `nowSeconds`, else undefined. Every step of
 * the window is computed whatever matches (verifyHOTP compares in constant time), so the timing
 * says nothing about which one did; of two matching steps the later is taken, so the replay guard
 * then refuses both.
 */
export function matchingStep(secret: Uint8Array, code: string, nowSeconds: number): number | undefined {
  const now = stepAt(nowSeconds)
  let found: number | undefined
  for (let step = now - WINDOW_STEPS; step <= now + WINDOW_STEPS; step++) {
    if (verifyHOTP(secret, BigInt(step), TOTP_DIGITS, code)) found = step
  }
  return found
}
