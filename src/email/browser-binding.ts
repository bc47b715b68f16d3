/**
 * The sign-in link's browser binding. Asking for a link sets a random value in a short-lived
 * HttpOnly cookie of the asking browser; the token's row keeps only its SHA-256 (migration 0022).
 * The link's page compares: the same browser signs in with one press; another one (a phone opening
 * the laptop's mail, or a victim handed an attacker's link to sign them into the attacker's
 * account) is asked first, "This link was requested in another browser. Sign in here anyway?".
 *
 * SameSite=Lax, not Strict: the link is opened from a mail client or webmail, a cross-site
 * top-level navigation that carries Lax cookies only.
 */
import type { Context } from 'hono'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { clearGatewayCookie, gatewayCookieName, setGatewayCookie } from '../http/gateway-cookie'
import { readCookieValues } from '../sessions'

// `__Host-gw_email_link` on https (src/http/gateway-cookie.ts).
const BINDING_COOKIE = 'gw_email_link'
const BINDING = /^[A-Za-z0-9_-]{43}$/

function presented(c: Context, issuer: string): string | undefined {
  const values = readCookieValues(c.req.header('cookie') ?? null, gatewayCookieName(issuer, BINDING_COOKIE))
  return values.length === 1 && BINDING.test(values[0] ?? '') ? values[0] : undefined
}

/**
 * This browser's binding (the one it has, or a new one), set again to live as long as the link:
 * two requests from one browser share it, as the second link replaces the first anyway.
 */
export function ensureLinkBinding(c: Context, issuer: string, maxAge: number): string {
  const value = presented(c, issuer) ?? randomToken()
  setGatewayCookie(c, issuer, BINDING_COOKIE, value, { sameSite: 'Lax', maxAge })
  return value
}

export function bindingHash(value: string): Promise<string> {
  return sha256Hex(value)
}

/** Whether this request comes from the browser whose binding hash the token keeps. */
export async function isBoundBrowser(
  c: Context,
  issuer: string,
  browserHash: string | null,
): Promise<boolean> {
  const value = presented(c, issuer)
  return value !== undefined && browserHash !== null && (await sha256Hex(value)) === browserHash
}

export function clearLinkBinding(c: Context, issuer: string): void {
  clearGatewayCookie(c, issuer, BINDING_COOKIE, { sameSite: 'Lax' })
}
