/**
 * Scopes in the authorization code flow. Identity scopes (openid, profile, email) need only the
 * client's registration; every other scope needs both the client's registration and a role of
 * the user that grants it (role_scopes).
 */

import { IDENTITY_SCOPES } from '../authz/scopes'
import { GatewayError } from '../errors/gateway-error'

/**
 * The scopes to put in a code: requested ∩ client ∩ (user's role scopes ∪ identity scopes).
 * Without a request, the client's registered scopes the user may hold. A request naming a scope
 * the client or the user may not have is refused (`invalid_scope`), not silently narrowed, so an
 * app learns at once that it asked for too much (the authorize endpoint redirects the error).
 */
export function authorizationScopes(
  requested: readonly string[] | undefined,
  clientScopes: readonly string[],
  userScopes: ReadonlySet<string>,
): string[] {
  const allowed = (scope: string) =>
    clientScopes.includes(scope) && (IDENTITY_SCOPES.has(scope) || userScopes.has(scope))
  if (requested === undefined) return clientScopes.filter(allowed).sort()
  const refused = requested.filter((scope) => !allowed(scope))
  if (refused.length > 0) {
    throw new GatewayError(
      'invalid_scope',
      `The scope(s) ${refused.join(' ')} cannot be granted to this app.`,
    )
  }
  return [...new Set(requested)].sort()
}

/** Every scope the gateway can grant (metadata's `scopes_supported`): identity scopes and role scopes. */
export function supportedScopes(roleScopes: Readonly<Record<string, readonly string[]>>): string[] {
  return [...new Set([...IDENTITY_SCOPES, ...Object.values(roleScopes).flat()])].sort()
}
