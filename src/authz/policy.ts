import { satisfiesMfa } from './authentication-strength'
import { isDelegated, type Principal } from './principal'
import { effectiveRoles, type RoleClosure } from './roles'

/**
 * One way to satisfy a rule's `any_of`: all of its fields hold (OpenAPI: one security requirement
 * object, whose schemes and scopes are all required).
 */
export interface Alternative {
  /** The credential kinds that count for this alternative; absent = any the route accepts. */
  credentials?: readonly Principal['method'][]
  /** Any of these (after the role hierarchy). */
  roles?: readonly string[]
  /** All of these. */
  scopes?: readonly string[]
}

/** What a request must satisfy on a route, after per-method overrides. */
export interface AccessRule {
  /** `deny`: refused whoever asks (403), before any credential is loaded. */
  access: 'public' | 'authenticated' | 'deny'
  /** Any of these (after the role hierarchy); empty = no role needed. */
  roles: readonly string[]
  /** All of these; empty = no scope needed. */
  scopes: readonly string[]
  /**
   * When set, at least one alternative must hold too (OpenAPI: alternatives between security
   * requirement objects). `roles` and `scopes` above still apply to every alternative.
   */
  any_of?: readonly Alternative[]
  /**
   * `deny`: a delegated token (issued to an app acting for the user) is refused whatever it holds.
   * A route field, not a method rule's: every method of the route has the route's. Absent = allow.
   */
  delegated?: 'allow' | 'deny'
  /**
   * The user must have signed in with a second factor or a passkey (`amr` holds `mfa`); API keys,
   * Basic and client tokens never do. A route field, like `delegated`.
   */
  require_mfa?: boolean
  /** The user must have authenticated at most this many seconds ago (`auth_time`). */
  max_auth_age?: number
}

type RouteWide = 'delegated' | 'require_mfa' | 'max_auth_age'

export interface RoutePolicy extends AccessRule {
  method_rules: Partial<Record<string, Partial<Omit<AccessRule, RouteWide>>>>
}

export type Denial =
  | { allow: false; reason: 'forbidden'; roles: readonly string[] }
  | { allow: false; reason: 'insufficient_scope'; scopes: readonly string[] }
  /** No alternative of `any_of` takes this kind of credential. */
  | { allow: false; reason: 'wrong_credential'; credentials: readonly string[] }
  /** The rule is `access = "deny"`. */
  | { allow: false; reason: 'denied' }
  /** The route says `delegated = "deny"` and the token was issued to the app `clientId`. */
  | { allow: false; reason: 'delegated'; clientId: string }
  /**
   * The credential is right but the sign-in behind it is not strong or recent enough (RFC 9470):
   * `mfa` when a second factor is missing, `maxAge` when the route bounds the sign-in's age.
   */
  | { allow: false; reason: 'step_up'; mfa: boolean; maxAge?: number }

export type Decision = { allow: true } | Denial

/** The rule for one method: a method rule overrides only the fields it sets. */
export function ruleFor(policy: RoutePolicy, method: string): AccessRule {
  const override = policy.method_rules[method] ?? (method === 'HEAD' ? policy.method_rules.GET : undefined)
  if (!override) return policy
  return {
    access: override.access ?? policy.access,
    roles: override.roles ?? policy.roles,
    scopes: override.scopes ?? policy.scopes,
    any_of: override.any_of ?? policy.any_of,
    delegated: policy.delegated,
    require_mfa: policy.require_mfa,
    max_auth_age: policy.max_auth_age,
  }
}

function checkRolesAndScopes(
  roles: readonly string[],
  scopes: readonly string[],
  principal: Principal,
  closure: RoleClosure,
): Decision {
  if (roles.length > 0) {
    const held = effectiveRoles(principal.roles, closure)
    if (!roles.some((role) => held.has(role))) return { allow: false, reason: 'forbidden', roles }
  }
  if (scopes.length > 0) {
    const missing = scopes.filter((scope) => !principal.scopes.includes(scope))
    if (missing.length > 0) return { allow: false, reason: 'insufficient_scope', scopes }
  }
  return { allow: true }
}

/**
 * The first alternative that holds allows. Otherwise the refusal of the first alternative that
 * takes the principal's kind of credential (its missing role or scopes: what the caller can
 * fix with another token), else that no alternative takes this kind of credential.
 */
function decideAlternatives(
  alternatives: readonly Alternative[],
  principal: Principal,
  closure: RoleClosure,
): Decision {
  let refusal: Denial | undefined
  const kinds = new Set<string>()
  for (const alternative of alternatives) {
    if (alternative.credentials && !alternative.credentials.includes(principal.method)) {
      for (const kind of alternative.credentials) kinds.add(kind)
      continue
    }
    const decision = checkRolesAndScopes(
      alternative.roles ?? [],
      alternative.scopes ?? [],
      principal,
      closure,
    )
    if (decision.allow) return decision
    refusal ??= decision
  }
  return refusal ?? { allow: false, reason: 'wrong_credential', credentials: [...kinds] }
}

/**
 * Pure decision. A delegated token on a `delegated = "deny"` route is refused first: no other
 * token of the app would do, so naming a missing role or scope would mislead it. Then roles before
 * scopes, so a 403 names the first thing missing.
 */
export function decide(
  rule: AccessRule,
  principal: Principal,
  closure: RoleClosure,
  now = Math.floor(Date.now() / 1000),
): Decision {
  if (rule.access === 'deny') return { allow: false, reason: 'denied' }
  if (rule.delegated === 'deny' && isDelegated(principal))
    return { allow: false, reason: 'delegated', clientId: principal.clientId }
  const base = checkRolesAndScopes(rule.roles, rule.scopes, principal, closure)
  const decision =
    !base.allow || !rule.any_of || rule.any_of.length === 0
      ? base
      : decideAlternatives(rule.any_of, principal, closure)
  // Last: signing in again cannot add a missing role, so that refusal names the role.
  return decision.allow ? checkAuthentication(rule, principal, now) : decision
}

// An `auth_time` this far in the future still counts as now (the issuer's clock may lead ours).
const AUTH_TIME_SKEW_SECONDS = 60

/** `require_mfa` and `max_auth_age` against how and when the principal's user signed in. */
export function checkAuthentication(rule: AccessRule, principal: Principal, now: number): Decision {
  const mfa = rule.require_mfa === true && !satisfiesMfa(principal.amr)
  const authTime = principal.authTime
  const stale =
    rule.max_auth_age !== undefined &&
    (authTime === undefined || authTime > now + AUTH_TIME_SKEW_SECONDS || now - authTime > rule.max_auth_age)
  if (!mfa && !stale) return { allow: true }
  return {
    allow: false,
    reason: 'step_up',
    mfa: rule.require_mfa === true,
    ...(rule.max_auth_age !== undefined ? { maxAge: rule.max_auth_age } : {}),
  }
}
