import { effectiveRoles, type RoleClosure } from '../authz/roles'
import { GatewayError } from '../errors/gateway-error'

/**
 * An API key may act with fewer roles than its owner (a CI key of an admin that needs only
 * `user`). Each role of the key must be held by the owner, directly or through the role hierarchy
 * (an admin may give a key `editor`; a user may not give it `admin`). At use, the key's roles are
 * capped again by the owner's *current* roles, so demoting the owner demotes the key too.
 */

const ROLE_NAME = /^[a-z][a-z0-9_:.-]{0,63}$/ // as roleName in config/schema.ts
const MAX_KEY_ROLES = 64

/** Validates the `roles` of a create request; undefined when absent (the key follows its owner). */
export function parseKeyRoles(
  value: unknown,
  ownerRoles: readonly string[],
  closure: RoleClosure,
): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (
    !Array.isArray(value) ||
    value.length > MAX_KEY_ROLES ||
    value.some((role) => typeof role !== 'string' || !ROLE_NAME.test(role))
  ) {
    throw new GatewayError('invalid_request', '"roles" must be an array of role names.')
  }
  const requested = [...new Set(value as string[])].sort()
  const held = effectiveRoles(ownerRoles, closure)
  const missing = requested.filter((role) => !held.has(role))
  if (missing.length > 0) {
    throw new GatewayError('invalid_request', `You do not hold the role(s): ${missing.join(' ')}.`)
  }
  return requested
}

/**
 * The roles a request made with the key acts with: the key's roles that the owner still holds
 * (after the hierarchy), or the owner's current roles when the key has none of its own.
 */
export function actingRoles(
  ownerRoles: readonly string[],
  keyRoles: readonly string[] | null | undefined,
  closure: RoleClosure,
): string[] {
  if (keyRoles === null || keyRoles === undefined) return [...ownerRoles]
  const held = effectiveRoles(ownerRoles, closure)
  return keyRoles.filter((role) => held.has(role))
}
