import type { Principal } from '../identity/principal'
import { effectiveRoles, type RoleClosure } from './roles'

/** What a request must satisfy on a route, after per-method overrides. */
export interface AccessRule {
  access: 'public' | 'authenticated'
  /** Any of these (after the role hierarchy); empty = no role needed. */
  roles: readonly string[]
  /** All of these; empty = no scope needed. */
  scopes: readonly string[]
}

export interface RoutePolicy extends AccessRule {
  method_rules: Partial<Record<string, Partial<AccessRule>>>
}

export type Decision =
  | { allow: true }
  | { allow: false; reason: 'forbidden'; roles: readonly string[] }
  | { allow: false; reason: 'insufficient_scope'; scopes: readonly string[] }

/** The rule for one method: a method rule overrides only the fields it sets. */
export function ruleFor(policy: RoutePolicy, method: string): AccessRule {
  const override = policy.method_rules[method] ?? (method === 'HEAD' ? policy.method_rules.GET : undefined)
  if (!override) return policy
  return {
    access: override.access ?? policy.access,
    roles: override.roles ?? policy.roles,
    scopes: override.scopes ?? policy.scopes,
  }
}

/** Pure decision: roles are checked before scopes, so a 403 names the first thing missing. */
export function decide(rule: AccessRule, principal: Principal, closure: RoleClosure): Decision {
  if (rule.roles.length > 0) {
    const held = effectiveRoles(principal.roles, closure)
    if (!rule.roles.some((role) => held.has(role)))
      return { allow: false, reason: 'forbidden', roles: rule.roles }
  }
  if (rule.scopes.length > 0) {
    const missing = rule.scopes.filter((scope) => !principal.scopes.includes(scope))
    if (missing.length > 0) return { allow: false, reason: 'insufficient_scope', scopes: rule.scopes }
  }
  return { allow: true }
}
