/**
 * The gateway's own short-lived HttpOnly cookies beside the session (the provider login's flow,
 * the passkey challenge binding, the pending sign-in): one rule for their names and attributes. On
 * an https ISSUER they carry the `__Host-` prefix, so the browser accepts them only with Secure,
 * Path=/ and no Domain and a sibling host cannot plant one; plain http (local development) cannot
 * have the prefix.
 *
 * @example
 * ```ts
 * setGatewayCookie(c, issuer, 'gw_flow', value, { sameSite: 'Lax', maxAge: 600 })
 * readCookieValues(request.headers.get('cookie'), gatewayCookieName(issuer, 'gw_flow'))
 * ```
 */
import type { Context } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'

export interface GatewayCookieOptions {
  sameSite: 'Lax' | 'Strict'
  maxAge?: number
}

function secureFor(issuer: string): boolean {
  return issuer.startsWith('https:')
}

/** The name the cookie is read under: decided by ISSUER's scheme, never by the request. */
export function gatewayCookieName(issuer: string, base: string): string {
  return secureFor(issuer) ? `__Host-${base}` : base
}

function attributes(issuer: string, options: GatewayCookieOptions) {
  const secure = secureFor(issuer)
  return {
    path: '/',
    httpOnly: true,
    secure,
    sameSite: options.sameSite,
    // hono's `prefix: 'host'` writes `__Host-` and enforces Secure, Path=/ and no Domain.
    ...(secure ? { prefix: 'host' as const } : {}),
    ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
  }
}

export function setGatewayCookie(
  c: Context,
  issuer: string,
  base: string,
  value: string,
  options: GatewayCookieOptions,
): void {
  setCookie(c, base, value, attributes(issuer, options))
}

export function clearGatewayCookie(
  c: Context,
  issuer: string,
  base: string,
  options: GatewayCookieOptions,
): void {
  deleteCookie(c, base, attributes(issuer, { sameSite: options.sameSite }))
}
