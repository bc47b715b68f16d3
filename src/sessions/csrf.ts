/**
 * The CSRF decision for requests that a browser's ambient session cookie authenticates. Pure: the
 * one place that applies it is `assertSessionRequestAllowed` (src/sessions/credential.ts).
 *
 * Modelled on Go 1.25's `http.CrossOriginProtection` (itself filippo.io/csrf's algorithm):
 * safe methods pass; `Sec-Fetch-Site: same-origin | none` passes; any other Fetch Metadata value is
 * refused; without it, `Origin` must be our own origin or a trusted one. Where we differ from Go:
 * CONTRACT.md lets a trusted origin in only when Fetch Metadata is absent (Go's trusted origins
 * bypass it), so a browser that sends `Sec-Fetch-Site: cross-site` is refused even from a trusted
 * origin: cross-origin browser apps use bearer tokens (authorization code + PKCE) instead. Taken from better-auth's origin check: the
 * comparison is against the configured origin (ISSUER), never the request's Host header, and
 * `Origin: null` (sandboxed frames, some redirects) is refused. And with
 * neither header Go lets the request through as "not a browser"; an ambient cookie makes it a
 * browser credential, so we require a double-submit token instead (`X-CSRF-Token` equal to the
 * CSRF cookie, itself bound to the session: see csrf-token.ts).
 */

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

export interface CrossOriginInput {
  method: string
  secFetchSite: string | null
  origin: string | null
  /** The gateway's origin (from ISSUER). */
  gatewayOrigin: string
  trustedOrigins: readonly string[]
  /** Whether the request carries a valid double-submit token; asked only when no header decides. */
  hasValidToken: () => boolean | Promise<boolean>
}

export type CrossOriginDecision =
  | { allow: true; by: 'safe_method' | 'fetch_metadata' | 'origin' | 'trusted_origin' | 'token' }
  | { allow: false; reason: 'cross_site_fetch_metadata' | 'foreign_origin' | 'no_origin_no_token' }

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin
  } catch {
    return false
  }
}

function isTrusted(origin: string | null, trusted: readonly string[]): boolean {
  // `Origin` is exactly scheme://host[:port]; "null" or anything with a path is never trusted.
  if (origin === null || origin === 'null' || !/^https?:\/\/[^/?#\s]+$/i.test(origin)) return false
  return trusted.some((entry) => sameOrigin(entry, origin))
}

export async function checkCrossOrigin(input: CrossOriginInput): Promise<CrossOriginDecision> {
  if (SAFE_METHODS.has(input.method.toUpperCase())) return { allow: true, by: 'safe_method' }
  const site = input.secFetchSite?.trim().toLowerCase()
  if (site !== undefined && site !== '') {
    if (site === 'same-origin' || site === 'none') return { allow: true, by: 'fetch_metadata' }
    return { allow: false, reason: 'cross_site_fetch_metadata' }
  }
  if (input.origin !== null) {
    if (isTrusted(input.origin, [input.gatewayOrigin])) return { allow: true, by: 'origin' }
    if (isTrusted(input.origin, input.trustedOrigins)) return { allow: true, by: 'trusted_origin' }
    return { allow: false, reason: 'foreign_origin' }
  }
  if (await input.hasValidToken()) return { allow: true, by: 'token' }
  return { allow: false, reason: 'no_origin_no_token' }
}
