/**
 * The CSRF check of the gateway's own signed-in forms (consent, sign-out confirmation). Both
 * halves must pass: the form's hidden field equals the session's double-submit token (HMAC of the
 * session cookie, csrf-token.ts: another site cannot compute it), and the request passes the
 * Fetch Metadata / Origin check (csrf.ts). Either alone would do against today's browsers; both
 * keep the form safe when one of them is missing (an old browser, a proxy that drops headers).
 */
import type { GatewayConfig } from '../config/load'
import { checkCrossOrigin } from './csrf'
import { csrfTokenFor, tokensMatch } from './csrf-token'

export async function signedInFormAllowed(input: {
  request: Request
  config: GatewayConfig
  /** The session cookie value the request carries. */
  sessionValue: string
  /** The form's `csrf` field. */
  field: string | null | undefined
}): Promise<boolean> {
  const { request, config } = input
  const tokenOk = tokensMatch(input.field, await csrfTokenFor(input.sessionValue))
  const origin = await checkCrossOrigin({
    method: request.method,
    secFetchSite: request.headers.get('sec-fetch-site'),
    origin: request.headers.get('origin'),
    gatewayOrigin: config.issuer,
    trustedOrigins: config.settings.trusted_origins,
    hasValidToken: () => tokenOk,
  })
  return tokenOk && origin.allow
}
