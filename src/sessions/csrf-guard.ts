/**
 * The CSRF guard: every request a browser's cookies could have sent on its own passes here, and
 * nowhere else. One decision (`checkCrossOrigin`, csrf.ts: Fetch Metadata, then Origin, then a
 * double-submit token), applied to the three kinds of request the gateway takes from a browser;
 * they differ only in where the double-submit token comes from:
 * - a request the session cookie authenticates (`X-CSRF-Token` header = the CSRF cookie = HMAC of
 *   the session cookie): `assertSessionRequestAllowed`, run by `loadPrincipal`;
 * - a form of a signed-in page (consent, sign-out confirmation, linking a provider): its hidden
 *   field = HMAC of the session cookie, and the origin check must pass too: `signedInFormAllowed`;
 * - the login form, before any session (login CSRF): its hidden field = the pre-session CSRF
 *   cookie, and the origin check must pass too: `loginFormAllowed`.
 * Requiring both halves on forms: either alone would do against today's browsers; both keep a form
 * safe when one is missing (an old browser, a proxy that drops headers).
 */
import type { GatewayConfig } from '../config/load'
import { GatewayError } from '../errors/gateway-error'
import { cookieNames, readCookieValues } from './cookies'
import { readSessionCookie } from './credential'
import { checkCrossOrigin } from './csrf'
import { csrfTokenFor, tokensMatch } from './csrf-token'

export const CSRF_HEADER = 'x-csrf-token'

interface GuardInput {
  request: Request
  config: GatewayConfig
}

function crossOrigin(input: GuardInput, hasValidToken: () => boolean | Promise<boolean>) {
  const { request, config } = input
  return checkCrossOrigin({
    method: request.method,
    secFetchSite: request.headers.get('sec-fetch-site'),
    origin: request.headers.get('origin'),
    gatewayOrigin: config.issuer,
    trustedOrigins: config.settings.trusted_origins,
    hasValidToken,
  })
}

/**
 * 403 `csrf_failed` unless a request authenticated by the session cookie is same-origin (see
 * csrf.ts for the rules). Nothing is forwarded or served on refusal.
 */
export async function assertSessionRequestAllowed(input: GuardInput): Promise<void> {
  const { request, config } = input
  const decision = await crossOrigin(input, async () => {
    const value = readSessionCookie(request, config.issuer)
    if (value === undefined) return false
    const expected = await csrfTokenFor(value)
    const cookies = readCookieValues(request.headers.get('cookie'), cookieNames(config.issuer).csrf)
    return (
      cookies.length === 1 &&
      tokensMatch(cookies[0], expected) &&
      tokensMatch(request.headers.get(CSRF_HEADER), expected)
    )
  })
  if (!decision.allow) {
    throw new GatewayError(
      'csrf_failed',
      'Cross-site request refused: this request must come from the same origin.',
    )
  }
}

/** A signed-in page's form: its `csrf` field matches the session's token and the origin passes. */
export async function signedInFormAllowed(
  input: GuardInput & {
    /** The session cookie value the request carries. */
    sessionValue: string
    /** The form's `csrf` field. */
    field: string | null | undefined
  },
): Promise<boolean> {
  const tokenOk = tokensMatch(input.field, await csrfTokenFor(input.sessionValue))
  const origin = await crossOrigin(input, () => tokenOk)
  return tokenOk && origin.allow
}

/** The login form: its `csrf` field matches the pre-session CSRF cookie and the origin passes. */
export async function loginFormAllowed(
  input: GuardInput & {
    /** The CSRF cookie, when the request carries exactly one well-formed value. */
    cookieToken: string | undefined
    field: string | null | undefined
  },
): Promise<boolean> {
  const tokenOk = input.cookieToken !== undefined && tokensMatch(input.field, input.cookieToken)
  const origin = await crossOrigin(input, () => tokenOk)
  return tokenOk && origin.allow
}
