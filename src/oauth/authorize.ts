/**
 * The authorization endpoint as a service: `/auth/authorize` hands it the query and the signed-in
 * user (or none) and renders what comes back; the consent page's approve and deny posts call
 * `approveAuthorization` and `denyAuthorization` after re-validating the same query. Nothing here
 * reads cookies or writes HTML, so every path runs in tests against the real D1.
 */
import { achievedAcr } from '../authz/authentication-strength'
import { rolesToConsent } from '../authz/delegation'
import { scopesForRoles } from '../authz/scopes'
import type { GatewayConfig } from '../config/load'
import { nowSeconds } from '../db/json'
import { isGatewayError } from '../errors/gateway-error'
import { issueAuthorizationCode } from './authorization-code'
import {
  type AuthorizationRequest,
  type AuthorizeValidation,
  validateAuthorizationRequest,
} from './authorize-request'
import { authorizationResponseUrl } from './authorize-response'
import type { ClientLookup } from './client-lookup'
import { findGrant, grantCovers, grantCoversRoles, recordGrant } from './consent'
import { decideInteraction, returnToAfterLogin, type SignedInUser } from './interaction'
import { authorizationScopes } from './requested-scopes'

export interface AuthorizingUser extends SignedInUser {
  roles: readonly string[]
  /** The browser session's id, kept with the code (and usable as the ID token's `sid` later). */
  browserSessionId?: string
}

export interface AuthorizeContext {
  db: D1Database
  config: GatewayConfig
  /** How the client is found (client-lookup.ts); D1 alone when absent. */
  lookUp?: ClientLookup
}

export type AuthorizeOutcome =
  /** An HTML error page on the gateway's origin: the client or redirect URI is not trusted. */
  | { kind: 'error_page'; description: string }
  /** 302 to the client: a code or an error, always with `state` and `iss`. */
  | { kind: 'redirect'; location: string }
  /** 302 to the login page with this `return_to` (and `login_hint`, if any, to prefill). */
  | { kind: 'login'; returnTo: string; loginHint?: string }
  /** 302 to the second-factor page (acr_values asks more than the sign-in gave), then back. */
  | { kind: 'step_up'; returnTo: string }
  /**
   * Show the consent page for these scopes and the roles the app would act with; its form
   * re-posts the original query.
   */
  | { kind: 'consent'; request: AuthorizationRequest; scopes: string[]; roles: string[] }

function back(
  context: AuthorizeContext,
  request: AuthorizationRequest,
  response: Parameters<typeof authorizationResponseUrl>[2],
): AuthorizeOutcome {
  return {
    kind: 'redirect',
    location: authorizationResponseUrl(request.redirectUri, context.config.issuer, response),
  }
}

/** The scopes to grant this user, or an `invalid_scope` redirect. */
function capScopes(
  context: AuthorizeContext,
  request: AuthorizationRequest,
  user: AuthorizingUser,
): string[] | AuthorizeOutcome {
  const { settings, roleClosure } = context.config
  try {
    const held = scopesForRoles(user.roles, roleClosure, settings.role_scopes)
    return authorizationScopes(request.requestedScopes, request.client.scopes, held)
  } catch (error) {
    if (!isGatewayError(error) || error.code !== 'invalid_scope') throw error
    return back(context, request, {
      error: 'invalid_scope',
      error_description: error.message,
      state: request.state,
    })
  }
}

async function issue(
  context: AuthorizeContext,
  request: AuthorizationRequest,
  user: AuthorizingUser,
  scopes: readonly string[],
): Promise<AuthorizeOutcome> {
  const { code } = await issueAuthorizationCode(context.db, {
    clientId: request.client.clientId,
    userId: user.userId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: 'S256',
    scopes,
    nonce: request.nonce,
    authTime: user.authTime,
    amr: user.amr,
    acr: request.acrValues ? achievedAcr(request.acrValues, user.amr) : undefined,
    browserSessionId: user.browserSessionId,
    resource: request.resource,
  })
  return back(context, request, { code, state: request.state })
}

/** An invalid request: our error page before the redirect URI is trusted, the client's after. */
function refused(
  context: AuthorizeContext,
  validation: Extract<AuthorizeValidation, { ok: false }>,
): AuthorizeOutcome {
  if (validation.show === 'page') return { kind: 'error_page', description: validation.description }
  return {
    kind: 'redirect',
    location: authorizationResponseUrl(validation.redirectUri, context.config.issuer, {
      error: validation.error,
      error_description: validation.description,
      state: validation.state,
    }),
  }
}

/** GET /auth/authorize. `pathAndQuery` is the request's own path and query (for `return_to`). */
export async function authorize(
  context: AuthorizeContext,
  params: URLSearchParams,
  pathAndQuery: string,
  user: AuthorizingUser | undefined,
  now = nowSeconds(),
): Promise<AuthorizeOutcome> {
  const validation = await validateAuthorizationRequest(
    context.db,
    params,
    now,
    context.config.mcpResources,
    context.lookUp,
  )
  if (!validation.ok) return refused(context, validation)
  const { request } = validation
  const scopes = user ? capScopes(context, request, user) : []
  if (!Array.isArray(scopes)) return scopes
  const roles = user ? rolesToConsent(request.client, user.roles, context.config.roleClosure) : []
  const grant = user
    ? await findGrant(context.db, { userId: user.userId, clientId: request.client.clientId })
    : undefined
  const decision = decideInteraction({
    request,
    user,
    consentCovers: user !== undefined && grantCovers(grant, scopes),
    rolesCovered: grantCoversRoles(grant, roles),
    now,
  })
  switch (decision.next) {
    case 'login':
      return {
        kind: 'login',
        returnTo: returnToAfterLogin(pathAndQuery, now),
        loginHint: request.loginHint,
      }
    case 'step_up':
      return { kind: 'step_up', returnTo: pathAndQuery }
    case 'error':
      return back(context, request, { error: decision.error, state: request.state })
    case 'consent':
      return { kind: 'consent', request, scopes, roles }
    case 'issue':
      // decideInteraction issues only for a signed-in user; without one, fail closed to the login.
      return user
        ? issue(context, request, user, scopes)
        : { kind: 'login', returnTo: returnToAfterLogin(pathAndQuery, now) }
  }
}

/** The consent page's "Allow" (CSRF-checked by the caller): remember the grant, issue the code. */
export async function approveAuthorization(
  context: AuthorizeContext,
  request: AuthorizationRequest,
  user: AuthorizingUser,
): Promise<AuthorizeOutcome> {
  const scopes = capScopes(context, request, user)
  if (!Array.isArray(scopes)) return scopes
  // The roles as the page named them, computed again from the user's and client's current state.
  const roles = rolesToConsent(request.client, user.roles, context.config.roleClosure)
  await recordGrant(context.db, { userId: user.userId, clientId: request.client.clientId, scopes, roles })
  return issue(context, request, user, scopes)
}

/** The consent page's "Deny": RFC 6749 §4.1.2.1 `access_denied`, with `state` and `iss`. */
export function denyAuthorization(
  context: AuthorizeContext,
  request: AuthorizationRequest,
): AuthorizeOutcome {
  return back(context, request, {
    error: 'access_denied',
    error_description: 'The user denied the request.',
    state: request.state,
  })
}

/**
 * POST /auth/authorize from the consent page (CSRF-checked by the caller): the posted query is
 * validated again from scratch, since the form is in the browser's hands, then approved or denied.
 */
export async function answerConsent(
  context: AuthorizeContext,
  params: URLSearchParams,
  user: AuthorizingUser,
  approve: boolean,
): Promise<AuthorizeOutcome> {
  const validation = await validateAuthorizationRequest(
    context.db,
    params,
    undefined,
    context.config.mcpResources,
    context.lookUp,
  )
  if (!validation.ok) return refused(context, validation)
  return approve
    ? approveAuthorization(context, validation.request, user)
    : denyAuthorization(context, validation.request)
}
