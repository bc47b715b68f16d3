import { GatewayError } from '../errors/gateway-error'
import { effectiveRoles, type RoleClosure } from './roles'

// RFC 6749 §3.3 scope-token characters.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/
const MAX_SCOPES = 64

/**
 * OpenID Connect's identity scopes ask for facts about the user, not for power over the API: no
 * role is needed to hold them (a client must still be registered with them).
 */
export const IDENTITY_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email'])

/** Parses a requested `scope` parameter; undefined when absent. */
export function parseScope(value: string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined
  const scopes = value.split(' ').filter(Boolean)
  if (scopes.length > MAX_SCOPES || scopes.some((scope) => !SCOPE_TOKEN.test(scope))) {
    throw new GatewayError('invalid_scope', 'The requested scope is malformed.')
  }
  return [...new Set(scopes)]
}

/** The scopes a user may hold: the union of `role_scopes` over the user's effective roles. */
export function scopesForRoles(
  roles: readonly string[],
  closure: RoleClosure,
  roleScopes: Readonly<Record<string, readonly string[]>>,
): Set<string> {
  const allowed = new Set<string>()
  for (const role of effectiveRoles(roles, closure))
    for (const scope of roleScopes[role] ?? []) allowed.add(scope)
  return allowed
}

/**
 * Granted = requested ∩ allowed (RFC 6749 §3.3 lets the server narrow). Without a request the
 * whole allowance is granted; a request of which nothing can be granted is `invalid_scope`.
 */
export function grantScopes(
  requested: readonly string[] | undefined,
  allowed: ReadonlySet<string>,
): string[] {
  if (requested === undefined) return [...allowed].sort()
  const granted = requested.filter((scope) => allowed.has(scope))
  if (requested.length > 0 && granted.length === 0) {
    throw new GatewayError('invalid_scope', 'None of the requested scopes can be granted.')
  }
  return granted.sort()
}
