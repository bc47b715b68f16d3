/**
 * Double-submit tokens. After login the CSRF cookie holds HMAC(session cookie value, label): a
 * value an attacker cannot compute without the session cookie, so a CSRF cookie planted by a
 * sibling host (cookie tossing on plain http) does not match (the "signed double submit" OWASP
 * recommends). Before login there is no session, so the login form uses a random pre-session
 * token bound to the CSRF cookie instead.
 */
import { hmacSha256, randomToken, timingSafeEqual, toBase64Url } from '../crypto/bytes'

const LABEL = 'gw-csrf-v1'
const TOKEN = /^[A-Za-z0-9_-]{43}$/

export async function csrfTokenFor(sessionValue: string): Promise<string> {
  return toBase64Url(await hmacSha256(sessionValue, LABEL))
}

export function newPreSessionToken(): string {
  return randomToken()
}

export function isTokenShape(value: string | undefined): value is string {
  return value !== undefined && TOKEN.test(value)
}

/** Constant-time: `presented` equals `expected` and both have a token's shape. */
export function tokensMatch(presented: string | undefined | null, expected: string | undefined): boolean {
  if (!isTokenShape(presented ?? undefined) || !isTokenShape(expected)) return false
  return timingSafeEqual(presented as string, expected)
}
