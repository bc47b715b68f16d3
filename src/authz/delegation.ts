/**
 * What an app acting for a user may do with the user's roles. A delegated token (issued to a client
 * through the authorization code flow, docs/authorization-server.md) carries the user's roles that
 * the operator also allowed that client: both sides closed under the role hierarchy, then
 * intersected. An admin who lets an app that may act as `editor` gets a token with `editor` and
 * `user`, never `admin`; a client with no `allowed_roles` gets a token with no role at all.
 */
import { effectiveRoles, type RoleClosure } from './roles'

export function delegatedRoles(
  userRoles: readonly string[],
  allowedRoles: readonly string[],
  closure: RoleClosure,
): string[] {
  if (allowedRoles.length === 0) return []
  const allowed = effectiveRoles(allowedRoles, closure)
  return [...effectiveRoles(userRoles, closure)].filter((role) => allowed.has(role)).sort()
}

/** The client's standing that decides a token's roles (a subset of OAuthClient). */
export interface DelegatingClient {
  firstParty: boolean
  allowedRoles: readonly string[]
}

/**
 * The roles the consent page names: what a token of this client would act with for this user.
 * A first-party client needs no consent for roles (its tokens are the user's own).
 */
export function rolesToConsent(
  client: DelegatingClient,
  userRoles: readonly string[],
  closure: RoleClosure,
): string[] {
  return client.firstParty ? [] : delegatedRoles(userRoles, client.allowedRoles, closure)
}

/**
 * The `roles` of a token issued to `client` for a user, at issue and at every refresh: a
 * first-party client's token carries the user's roles; a delegated one the user's current roles ∩
 * the client's current `allowed_roles` ∩ what the user approved on the consent page, so neither
 * an operator widening `allowed_roles` nor a user gaining a role hands the app more than the
 * page named.
 */
export function clientTokenRoles(
  client: DelegatingClient,
  userRoles: readonly string[],
  consentedRoles: readonly string[],
  closure: RoleClosure,
): string[] {
  if (client.firstParty) return [...userRoles]
  return delegatedRoles(delegatedRoles(userRoles, client.allowedRoles, closure), consentedRoles, closure)
}
