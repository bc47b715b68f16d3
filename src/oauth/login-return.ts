/**
 * Where a login form whose `return_to` is an authorization request may end up: the client's
 * registered redirect URI. The login page lists it in its CSP `form-action`, because Chromium
 * checks that directive on every redirect after the form is sent, and the chain "POST /auth/login
 * → 303 /auth/authorize → 302 to the app" ends at the app when consent was given before.
 */
import { validateAuthorizationRequest } from './authorize-request'
import type { ClientLookup } from './client-lookup'

export const AUTHORIZE_PATH = '/auth/authorize'

/** The validated redirect URI of `returnTo` when it is an authorize URL, else undefined. */
export async function loginReturnTarget(
  db: D1Database,
  returnTo: string,
  lookUp?: ClientLookup,
): Promise<string | undefined> {
  const url = new URL(returnTo, 'http://gateway.invalid')
  if (url.pathname !== AUTHORIZE_PATH) return undefined
  const validation = await validateAuthorizationRequest(db, url.searchParams, undefined, undefined, lookUp)
  if (validation.ok) return validation.request.redirectUri
  // An error for the client goes to its (registered) redirect URI too.
  return validation.show === 'redirect' ? validation.redirectUri : undefined
}

/** The login form's extra CSP `form-action` targets for `returnTo` (none, or the client's). */
export async function loginFormTargets(
  db: D1Database,
  returnTo: string,
  lookUp?: ClientLookup,
): Promise<string[]> {
  const target = await loginReturnTarget(db, returnTo, lookUp)
  return target ? [target] : []
}
