/**
 * PKCE (RFC 7636) with S256 only: `plain` would hand the verifier to whoever sees the
 * authorization request, which is exactly the interception PKCE exists to stop (OAuth 2.1 §4.1.1).
 */
import { timingSafeEqual, toBase64Url } from '../crypto/bytes'

export const PKCE_METHOD = 'S256'
// RFC 7636 §4.1: 43-128 characters of the unreserved set.
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/
// BASE64URL(SHA-256(...)) is always 43 characters.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

export function isCodeVerifier(value: string): boolean {
  return CODE_VERIFIER.test(value)
}

export function isS256Challenge(value: string): boolean {
  return S256_CHALLENGE.test(value)
}

export async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return toBase64Url(new Uint8Array(digest))
}

/** RFC 7636 §4.6, compared in constant time. */
export async function verifierMatches(verifier: string, challenge: string): Promise<boolean> {
  if (!isCodeVerifier(verifier)) return false
  return timingSafeEqual(await s256(verifier), challenge)
}
