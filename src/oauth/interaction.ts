/**
 * What `/auth/authorize` does next for a valid request, given the browser session (if any) and
 * any earlier consent: send the user to the login page, show the consent page, answer the client
 * with an error (`prompt=none`, OIDC Core §3.1.2.6), or issue the code. Pure, so every branch is
 * tested without a browser.
 */
import type { AuthorizationRequest, AuthorizeErrorCode } from './authorize-request'

export interface SignedInUser {
  userId: string
  /** When the user last authenticated (unix seconds). */
  authTime: number
}

export type Interaction =
  | { next: 'login' }
  | { next: 'consent' }
  | { next: 'issue' }
  | { next: 'error'; error: Extract<AuthorizeErrorCode, 'login_required' | 'consent_required'> }

export function decideInteraction(input: {
  request: AuthorizationRequest
  user: SignedInUser | undefined
  /** `grantCovers(await findGrant(...), scopes)` for this user, client and the capped scopes. */
  consentCovers: boolean
  now: number
}): Interaction {
  const { request, user, now } = input
  const { prompt } = request
  const silent = prompt.has('none')
  const stale = user !== undefined && request.maxAge !== undefined && now - user.authTime > request.maxAge
  if (!user || stale || prompt.has('login')) {
    return silent ? { next: 'error', error: 'login_required' } : { next: 'login' }
  }
  if (prompt.has('consent')) return { next: 'consent' }
  if (request.client.skipConsent || input.consentCovers) return { next: 'issue' }
  return silent ? { next: 'error', error: 'consent_required' } : { next: 'consent' }
}

/**
 * The authorize URL to come back to after the login page (its `return_to`). `prompt=login` is
 * taken out: the user has just signed in, and keeping it would send them to the login page again.
 */
export function returnToAfterLogin(authorizePathAndQuery: string): string {
  const url = new URL(authorizePathAndQuery, 'http://gateway.invalid')
  const prompt = (url.searchParams.get('prompt') ?? '')
    .split(' ')
    .filter((value) => value && value !== 'login')
  if (prompt.length > 0) url.searchParams.set('prompt', prompt.join(' '))
  else url.searchParams.delete('prompt')
  return `${url.pathname}${url.search}`
}
