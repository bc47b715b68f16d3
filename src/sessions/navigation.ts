/**
 * Browsers that navigate to a session route without a valid session are sent to the login page
 * instead of being shown a JSON 401; API clients (and browser `fetch` calls, which do not ask for
 * text/html first) keep the usual 401.
 */
import type { CredentialKind } from '../config/schema'
import { type GatewayError, isGatewayError } from '../errors/gateway-error'
import { safeReturnTo } from './return-to'

export const LOGIN_PATH = '/auth/login'
/** The second step of a sign-in, and the step-up of a signed-in session (sign-in.ts). */
export const SECOND_FACTOR_PATH = '/auth/second-factor'

/** GET or HEAD whose Accept names text/html: what a browser sends for a page load. */
export function isBrowserNavigation(request: Request): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  return (request.headers.get('accept') ?? '').toLowerCase().includes('text/html')
}

/** The login page that comes back to `returnTo` (a path safeReturnTo has already checked). */
export function loginUrl(returnTo: string): string {
  return `${LOGIN_PATH}?return_to=${encodeURIComponent(returnTo)}`
}

/**
 * The 302 to the login page for a navigation that failed authentication on a route accepting
 * `session`, else undefined (the error is rendered as usual). `return_to` is the requested path
 * and query, already held to the rules it is checked against after login.
 */
export function loginRedirectFor(
  request: Request,
  credentials: readonly CredentialKind[],
  error: unknown,
  gatewayOrigin: string,
): Response | undefined {
  if (!credentials.includes('session') || !isBrowserNavigation(request)) return undefined
  if (!isGatewayError(error) || error.status !== 401) return undefined
  const url = new URL(request.url)
  const returnTo = safeReturnTo(url.pathname + url.search, gatewayOrigin)
  return new Response(null, {
    status: 302,
    headers: { location: stepFor(error, returnTo), 'cache-control': 'no-store' },
  })
}

/**
 * Where a refused navigation goes: a route that wants a second factor (RFC 9470 refusal naming
 * `acr_values`) to the second-factor page, which also serves a signed-in user's step-up; a sign-in
 * that is merely too old, or none at all, to the login page.
 */
function stepFor(error: GatewayError, returnTo: string): string {
  const challenges = [error.challenge ?? []].flat()
  const wantsFactor =
    error.code === 'insufficient_user_authentication' &&
    challenges.some((challenge) => challenge.scheme === 'Bearer' && challenge.acrValues !== undefined)
  return wantsFactor ? `${SECOND_FACTOR_PATH}?return_to=${encodeURIComponent(returnTo)}` : loginUrl(returnTo)
}
