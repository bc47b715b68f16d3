/**
 * The gateway's two browser cookies. On an https ISSUER they carry the `__Host-` prefix: the
 * browser then only accepts them with Secure, Path=/ and no Domain, so a sibling subdomain cannot
 * plant ("toss") one for us. Plain http (local development) cannot have that prefix; there the
 * names are unprefixed and a cookie planted by a sibling host remains possible (see the threat model).
 */
import type { Context } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import type { CookieOptions } from 'hono/utils/cookie'

export interface CookieNames {
  session: string
  csrf: string
  secure: boolean
}

const HTTPS: CookieNames = { session: '__Host-gw_session', csrf: '__Host-gw_csrf', secure: true }
const HTTP: CookieNames = { session: 'gw_session', csrf: 'gw_csrf', secure: false }

/** The names in force for this deployment: decided by ISSUER's scheme, never by the request. */
export function cookieNames(issuer: string): CookieNames {
  return issuer.startsWith('https:') ? HTTPS : HTTP
}

/** Every value sent under `name` (a browser sends two when a cookie was planted beside ours). */
export function readCookieValues(header: string | null, name: string): string[] {
  if (!header) return []
  const values: string[] = []
  // Two Cookie fields arrive joined by ", " (Fetch `Headers` combining), hence both separators.
  for (const pair of header.split(/;|, /)) {
    const index = pair.indexOf('=')
    if (index > 0 && pair.slice(0, index).trim() === name) values.push(pair.slice(index + 1).trim())
  }
  return values
}

function options(names: CookieNames, httpOnly: boolean, maxAge: number | undefined): CookieOptions {
  // hono's `prefix: 'host'` writes `__Host-` and enforces Secure, Path=/ and no Domain.
  return {
    path: '/',
    secure: names.secure,
    httpOnly,
    sameSite: 'Lax',
    ...(names.secure ? { prefix: 'host' as const } : {}),
    ...(maxAge === undefined ? {} : { maxAge }),
  }
}

function bareName(name: string): string {
  return name.replace(/^__Host-/, '')
}

/**
 * Sets the session cookie (HttpOnly) and the CSRF cookie (readable by the page's scripts, which
 * echo it in `X-CSRF-Token`). Without `maxAge` both end with the browser session.
 */
export function setSessionCookies(
  c: Context,
  names: CookieNames,
  value: string,
  csrfToken: string,
  maxAge?: number,
): void {
  setCookie(c, bareName(names.session), value, options(names, true, maxAge))
  setCookie(c, bareName(names.csrf), csrfToken, options(names, false, maxAge))
}

/** The login form's pre-session CSRF cookie (login CSRF defense). */
export function setCsrfCookie(c: Context, names: CookieNames, token: string): void {
  setCookie(c, bareName(names.csrf), token, options(names, false, undefined))
}

export function clearSessionCookies(c: Context, names: CookieNames): void {
  deleteCookie(c, bareName(names.session), options(names, true, undefined))
  deleteCookie(c, bareName(names.csrf), options(names, false, undefined))
}
