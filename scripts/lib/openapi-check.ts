/**
 * `routes check`: the configured table against the document's declared operations. For each
 * operation, the route the gateway would pick for a request to it, and whether that route's rule is
 * weaker (lets in a request the declaration refuses), stronger, or the same; then every route that
 * no operation reaches. Pure: takes the compiled config and the operations.
 *
 * Rules are compared as sets of "ways in" (alternatives: credential kinds, scopes, role groups,
 * whether a delegated token counts): A is at least as strict as B when every way into A is also a
 * way into B.
 */
import { type AccessRule, ruleFor } from '../../src/authz/policy'
import { effectiveRoles, type RoleClosure } from '../../src/authz/roles'
import type { CompiledRoute, GatewayConfig } from '../../src/config/load'
import { CREDENTIAL_KINDS } from '../../src/config/schema'
import { GatewayError } from '../../src/errors/gateway-error'
import { canonicalizePath } from '../../src/routing/canonical-path'
import type { Operation } from './openapi-security'

interface Way {
  credentials: ReadonlySet<string>
  scopes: ReadonlySet<string>
  /** Each group: any one of its roles (all groups must hold). */
  roleGroups: readonly (readonly string[])[]
  /** A token issued to an app gets in this way (it takes `jwt`, and delegated is not denied). */
  delegated: boolean
}
/** `public`: anyone; `[]`: nobody (deny). */
type Access = 'public' | Way[]

export type FindingKind = 'unrouted' | 'weaker' | 'stronger' | 'different' | 'same' | 'uncovered_route'

export interface Finding {
  kind: FindingKind
  operation?: string
  route?: { index: number; path: string }
  detail: string
}

export interface CheckOptions {
  prefix: string
  /** Only routes to this upstream count as "covering no operation". */
  upstream?: string
  /** The Host of the requests (host-specific routes); default: none. */
  host?: string
}

/** Delegated tokens are our access tokens: a way that takes `jwt` takes them unless denied. */
function admitsDelegated(credentials: ReadonlySet<string>, delegated: 'allow' | 'deny' | undefined): boolean {
  return credentials.has('jwt') && delegated !== 'deny'
}

function declaredAccess(operation: Operation): Access {
  const { policy } = operation
  if (policy.access === 'public') return 'public'
  if (policy.access === 'deny') return []
  const groups = policy.roles.length > 0 ? [policy.roles] : []
  const alternatives =
    policy.alternatives.length > 0 ? policy.alternatives : [{ credentials: CREDENTIAL_KINDS, scopes: [] }]
  return alternatives.map((alt) => {
    const credentials = new Set<string>(alt.credentials)
    return {
      credentials,
      scopes: new Set(alt.scopes),
      roleGroups: groups,
      delegated: admitsDelegated(credentials, operation.delegated),
    }
  })
}

function configuredAccess(route: CompiledRoute, rule: AccessRule): Access {
  if (rule.access === 'public') return 'public'
  if (rule.access === 'deny') return []
  const base = rule.roles.length > 0 ? [rule.roles] : []
  const alternatives = rule.any_of ?? [{}]
  return alternatives.map((alt) => {
    const credentials = new Set<string>(
      (alt.credentials ?? route.credentials).filter((kind) => route.credentials.includes(kind)),
    )
    return {
      credentials,
      scopes: new Set([...rule.scopes, ...(alt.scopes ?? [])]),
      roleGroups: alt.roles && alt.roles.length > 0 ? [...base, alt.roles] : base,
      delegated: admitsDelegated(credentials, rule.delegated),
    }
  })
}

/** Whoever satisfies group `a` (holds one of its roles) satisfies group `b`. */
function groupImplies(a: readonly string[], b: readonly string[], closure: RoleClosure): boolean {
  return a.every((role) => b.some((needed) => effectiveRoles([role], closure).has(needed)))
}

function wayImplies(a: Way, b: Way, closure: RoleClosure): boolean {
  return (
    [...a.credentials].every((kind) => b.credentials.has(kind)) &&
    [...b.scopes].every((scope) => a.scopes.has(scope)) &&
    b.roleGroups.every((group) => a.roleGroups.some((mine) => groupImplies(mine, group, closure))) &&
    (!a.delegated || b.delegated)
  )
}

/** Every request `a` lets in, `b` lets in too. */
function within(a: Access, b: Access, closure: RoleClosure): boolean {
  if (b === 'public') return true
  if (a === 'public') return false
  return a.every((way) => b.some((other) => wayImplies(way, other, closure)))
}

function describe(access: Access): string {
  if (access === 'public') return 'public'
  if (access.length === 0) return 'deny'
  return access
    .map((way) => {
      const parts = [[...way.credentials].join('|')]
      if (way.scopes.size > 0) parts.push(`scopes ${[...way.scopes].join(' ')}`)
      for (const group of way.roleGroups) parts.push(`role ${group.join('|')}`)
      if (way.credentials.has('jwt') && !way.delegated) parts.push('delegated deny')
      return parts.join(', ')
    })
    .join(' OR ')
}

/** A request path for the operation: each parameter becomes one neutral segment. */
export function samplePath(prefix: string, path: string): string {
  const filled = path.replace(/\{[^}/]*\}/g, '_sample_')
  return `${prefix.replace(/\/$/, '')}${filled}`.replace(/(.)\/+$/, '$1') || '/'
}

export function checkOperations(
  config: GatewayConfig,
  operations: readonly Operation[],
  options: CheckOptions,
): Finding[] {
  const findings: Finding[] = []
  const reached = new Set<CompiledRoute>()
  for (const operation of operations) {
    const name = `${operation.method} ${operation.path}${operation.operationId ? ` (${operation.operationId})` : ''}`
    const declared = declaredAccess(operation)
    let route: CompiledRoute
    try {
      route = config.routeTable.match(
        operation.method,
        options.host ?? '',
        canonicalizePath(samplePath(options.prefix, operation.path)),
      )
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error
      findings.push({
        kind: 'unrouted',
        operation: name,
        detail: `${error.code}: declared ${describe(declared)}`,
      })
      continue
    }
    reached.add(route)
    const configured = configuredAccess(route, ruleFor(route, operation.method))
    const weaker = !within(configured, declared, config.roleClosure)
    const stronger = !within(declared, configured, config.roleClosure)
    const kind: FindingKind =
      weaker && stronger ? 'different' : weaker ? 'weaker' : stronger ? 'stronger' : 'same'
    findings.push({
      kind,
      operation: name,
      route: { index: route.index, path: route.path },
      detail: `declared ${describe(declared)}; configured ${describe(configured)}`,
    })
  }
  for (const route of config.routes) {
    if (reached.has(route)) continue
    if (options.upstream !== undefined && route.upstream !== options.upstream) continue
    findings.push({
      kind: 'uncovered_route',
      route: { index: route.index, path: route.path },
      detail: 'no operation of the document reaches this route',
    })
  }
  return findings
}
