/**
 * What `/auth/authorize` does next for a valid request, given the browser session (if any) and
 * any earlier consent: send the user to the login page, show the consent page, answer the client
 * with an error (`prompt=none`, OIDC Core §3.1.2.6), or issue the code. Pure, so every branch is
 * tested without a browser.
 */
import { achievedAcr } from '../authz/authentication-strength'
import { type AuthorizationRequest, type AuthorizeErrorCode, LOGIN_AFTER } from './authorize-request'

export interface SignedInUser {
  userId: string
  /** When the user last authenticated (unix seconds). */
  authTime: number
  /** RFC 8176 methods of the sign-in. */
  amr?: readonly string[]
}

export type Interaction =
  | { next: 'login' }
  /** Signed in, but not as strongly as `acr_values` asks: the second-factor page, then back. */
  | { next: 'step_up' }
  | { next: 'consent' }
  | { next: 'issue' }
  | {
      next: 'error'
      error: Extract<AuthorizeErrorCode, 'login_required' | 'consent_required' | 'interaction_required'>
    }

export function decideInteraction(input: {
  request: AuthorizationRequest
  user: SignedInUser | undefined
  /** `grantCovers(await findGrant(...), scopes)` for this user, client and the capped scopes. */
  consentCovers: boolean
  /**
   * Whether the user already let this client act with every role its token would carry
   * (`grantCoversRoles`); true when it would carry none.
   */
  rolesCovered: boolean
  now: number
}): Interaction {
  const { request, user, now } = input
  const { prompt } = request
  const silent = prompt.has('none')
  const stale = user !== undefined && isStale(request, user, now)
  if (!user || stale || prompt.has('login')) {
    return silent ? { next: 'error', error: 'login_required' } : { next: 'login' }
  }
  if (request.acrValues && achievedAcr(request.acrValues, user.amr) === undefined)
    return silent ? { next: 'error', error: 'interaction_required' } : { next: 'step_up' }
  if (prompt.has('consent')) return { next: 'consent' }
  // The one rule (docs/authorization-server.md): a first_party client never asks; skip_consent
  // skips the page for scopes only; a role the user has not yet approved always shows the page.
  const { client } = request
  if (client.firstParty || ((client.skipConsent || input.consentCovers) && input.rolesCovered))
    return { next: 'issue' }
  return silent ? { next: 'error', error: 'consent_required' } : { next: 'consent' }
}

/**
 * Whether the sign-in is too old for this request. Once the login page sent the user back
 * (`login_after`, see below), only a sign-in at or after that moment counts, and it satisfies
 * `max_age` too: the user authenticated after this authorization began, which is what `max_age`
 * asks, and `max_age=0` (OIDC Core §3.1.2.1: like prompt=login) would otherwise loop forever.
 */
function isStale(request: AuthorizationRequest, user: SignedInUser, now: number): boolean {
  if (request.loginAfter !== undefined) return user.authTime < request.loginAfter
  return request.maxAge !== undefined && now - user.authTime > request.maxAge
}

/**
 * The authorize URL to come back to after the login page (its `return_to`). `prompt=login` is
 * taken out (keeping it would send the user to the login page again) and replaced by
 * `login_after=<now>`: coming back with the session that was already there, without signing in
 * again, is sent to the login page once more, so the code's `auth_time` is after this request.
 */
export function returnToAfterLogin(authorizePathAndQuery: string, now: number): string {
  const url = new URL(authorizePathAndQuery, 'http://gateway.invalid')
  const prompt = (url.searchParams.get('prompt') ?? '')
    .split(' ')
    .filter((value) => value && value !== 'login')
  if (prompt.length > 0) url.searchParams.set('prompt', prompt.join(' '))
  else url.searchParams.delete('prompt')
  url.searchParams.set(LOGIN_AFTER, String(now))
  return `${url.pathname}${url.search}`
}
