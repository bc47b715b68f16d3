import type { AccessRule } from '../authz/policy'
import { isDelegated } from '../authz/principal'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import type { ErrorCode } from '../errors/gateway-error'
import { rankRoutes, whyBeats } from '../routing/route-ranking'
import type { StageOutcome } from './stages'

/**
 * What the stages found, as explain answers it and as a refused request's debug log line carries
 * it (CONTRACT: `{canonical_path | rejected, route, rule, principal, decision, reason}`). Safe to
 * show an admin and to log: ids, names, roles and scopes, never a credential or a hash.
 */
export interface Explanation {
  method: string
  canonical_path?: string
  rejected?: { error: ErrorCode; reason: string }
  route: {
    index: number
    path: string
    host?: string
    match: 'exact' | 'prefix'
    methods?: readonly string[]
    upstream: string
    /** `identity = "assertion"`: the upstream gets X-Auth-Assertion and X-Auth-User-Id only. */
    identity?: 'assertion'
    /** Why it won: the other routes that match the path too, and what decided against each. */
    beat: { index: number; path: string; why: string }[]
  } | null
  rule:
    | (AccessRule & {
        credentials: readonly string[]
        delegated: 'allow' | 'deny'
        method_rule: boolean
      })
    | null
  principal: {
    id: string
    username: string
    auth_method: string
    roles: readonly string[]
    scopes: readonly string[]
    issuer?: string
    /** The app the token was issued to. */
    client_id?: string
    /** A token issued to an app acting for the user (what `delegated = "deny"` refuses). */
    delegated?: true
    /** How and when the user signed in (what `require_mfa` and `max_auth_age` judge). */
    amr?: readonly string[]
    auth_time?: number
  } | null
  decision: { allow: boolean; status: number; error?: ErrorCode; location?: string }
  reason: string
}

const MAX_BEATEN = 10

function describeRoute(config: GatewayConfig, route: CompiledRoute, keys: readonly string[]) {
  // Host-specific routes are compared among themselves: a host route wins over host-less ones first.
  const ranked = rankRoutes(
    config.routes.filter((other) => other.host === route.host),
    keys,
  )
  const winner = ranked.find((entry) => entry.route === route)
  const beat = ranked
    .filter((entry) => entry.route !== route && winner)
    .slice(0, MAX_BEATEN)
    .map((entry) => ({
      index: entry.route.index,
      path: entry.route.path,
      why: whyBeats(winner?.segments ?? [], entry.segments),
    }))
  return {
    index: route.index,
    path: route.path,
    ...(route.host ? { host: route.host } : {}),
    match: route.exact ? ('exact' as const) : ('prefix' as const),
    ...(route.methods ? { methods: route.methods } : {}),
    upstream: route.upstream,
    ...(route.identity === 'assertion' ? { identity: 'assertion' as const } : {}),
    beat,
  }
}

function reasonOf(outcome: StageOutcome): string {
  if (outcome.stage === 'allowed')
    return outcome.rule?.access === 'public'
      ? 'public route: forwarded without credentials'
      : 'the principal satisfies the rule: forwarded'
  if (outcome.redirect)
    return 'no valid credentials on a session route: a browser navigation goes to the login page'
  if (outcome.uncheckedBasic)
    return 'a Basic credential was presented: explain never checks passwords (that would be a password oracle without throttling)'
  if (outcome.stage === 'identity' && !outcome.error)
    return 'the route accepts only Basic, which explain does not check'
  const decision = outcome.decision
  if (decision && !decision.allow) {
    if (decision.reason === 'forbidden') return `missing role: needs one of ${decision.roles.join(', ')}`
    if (decision.reason === 'insufficient_scope')
      return `missing scope: needs all of ${decision.scopes.join(' ')}`
    if (decision.reason === 'denied') return 'the rule is access = "deny": nobody may'
    if (decision.reason === 'delegated')
      return `the route is delegated = "deny" and the token was issued to the app "${decision.clientId}": only the user's own credentials may call it`
    if (decision.reason === 'step_up')
      return `the sign-in is not strong or recent enough: needs ${[
        ...(decision.mfa ? ['a second factor or a passkey (amr "mfa")'] : []),
        ...(decision.maxAge !== undefined ? [`an auth_time within ${decision.maxAge} s`] : []),
      ].join(' and ')}`
    return `wrong kind of credential: needs ${decision.credentials.join(' or ')}`
  }
  return outcome.error?.message ?? 'undetermined'
}

export function explainOutcome(method: string, outcome: StageOutcome, config?: GatewayConfig): Explanation {
  const { route, rule, principal, error, redirect } = outcome
  const allow = outcome.stage === 'allowed'
  return {
    method,
    ...(outcome.path ? { canonical_path: outcome.path.path } : {}),
    ...(outcome.stage === 'path' && error ? { rejected: { error: error.code, reason: error.message } } : {}),
    route: route && outcome.path && config ? describeRoute(config, route, outcome.path.keys) : null,
    rule:
      route && rule
        ? {
            // The policy's own fields only: `rule` may be the compiled route itself (no method
            // rule), whose matching internals are not the operator's business.
            access: rule.access,
            roles: rule.roles,
            scopes: rule.scopes,
            ...(rule.any_of ? { any_of: rule.any_of } : {}),
            credentials: route.credentials,
            delegated: rule.delegated ?? 'allow',
            ...(rule.require_mfa ? { require_mfa: true } : {}),
            ...(rule.max_auth_age !== undefined ? { max_auth_age: rule.max_auth_age } : {}),
            method_rule:
              route.method_rules[method] !== undefined || (method === 'HEAD' && !!route.method_rules.GET),
          }
        : null,
    principal: principal
      ? {
          id: principal.id,
          username: principal.username,
          auth_method: principal.method,
          roles: principal.roles,
          scopes: principal.scopes,
          ...(principal.issuerName ? { issuer: principal.issuerName } : {}),
          ...(principal.clientId ? { client_id: principal.clientId } : {}),
          ...(isDelegated(principal) ? { delegated: true as const } : {}),
          ...(principal.amr ? { amr: principal.amr } : {}),
          ...(principal.authTime !== undefined ? { auth_time: principal.authTime } : {}),
        }
      : null,
    decision: {
      allow,
      status: allow ? 200 : redirect ? redirect.status : (error?.status ?? 0),
      ...(error ? { error: error.code } : {}),
      ...(redirect ? { location: redirect.headers.get('location') ?? '' } : {}),
    },
    reason: reasonOf(outcome),
  }
}
