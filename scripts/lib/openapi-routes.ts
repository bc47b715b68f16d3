/**
 * Declared operations (openapi-security.ts) → `[[vars.ROUTES]]` entries. One route per OpenAPI path
 * and distinct policy, listing its methods: routes on the same path with other methods share the
 * trie node, so a method no operation declares is 405 with the union as `Allow`. Plain paths are
 * written with `match = "exact"` (an OpenAPI path covers nothing below it); templates are exact
 * by default. An operation under one of the gateway's own segments (`/admin/...` without
 * `--prefix`) gets no route, as config validation would refuse it, and is reported as skipped.
 * Pure: no I/O.
 */
import type { CredentialKind } from '../../src/config/schema'
import { CREDENTIAL_KINDS } from '../../src/config/schema'
import { canonicalizePath } from '../../src/routing/canonical-path'
import { reservedSegmentFor } from '../../src/routing/reserved-segments'
import { parseRoutePath } from '../../src/routing/route-pattern'
import type { DeclaredAlternative, Operation, Problem } from './openapi-security'

export interface RouteOptions {
  /** The route's `upstream`: a var name or an origin. */
  upstream: string
  /** Prepended to every OpenAPI path (`/api`): where the gateway exposes the upstream. */
  prefix: string
  /** SETTINGS.external_issuers names written as `issuers` on routes that take `external_jwt`. */
  issuers?: readonly string[]
}

export interface GeneratedRoute {
  /** The `[[vars.ROUTES]]` entry, as the config schema reads it. */
  route: Record<string, unknown>
  /** `GET /items/{item_id} (read_item)`: written above the entry. */
  operations: string[]
}

const DEFAULT_CREDENTIALS: CredentialKind[] = ['jwt', 'api_key']
const PARAM_SEGMENT = /^\{[A-Za-z_][A-Za-z0-9_.-]{0,63}\}$/

/** The OpenAPI path as a gateway route path, or undefined (reported) when it has no equivalent. */
export function routePath(prefix: string, path: string, at: string, problems: Problem[]): string | undefined {
  const raw = `${prefix.replace(/\/$/, '')}${path}`.replace(/\/+$/, '') || '/'
  const segments = raw === '/' ? [] : raw.slice(1).split('/')
  const out: string[] = []
  for (const [index, segment] of segments.entries()) {
    if (PARAM_SEGMENT.test(segment)) {
      out.push(segment)
      continue
    }
    if (segment.includes('{')) {
      // `/files/{name}.json`: the gateway matches whole segments; the whole segment is the closest
      // (it matches more paths, all of which get this operation's policy). Reported.
      problems.push({
        at,
        message: `"${segment}" mixes a parameter with text; the route takes the whole segment`,
      })
      out.push(`{segment_${index}}`)
      continue
    }
    try {
      const canonical = canonicalizePath(`/${segment}`).path.slice(1)
      out.push(canonical)
    } catch (error) {
      problems.push({
        at,
        message: `segment "${segment}": ${error instanceof Error ? error.message : 'invalid'}`,
      })
      return undefined
    }
  }
  return `/${out.join('/')}`
}

/**
 * The gateway segment (`admin`, `auth`, ...) a route path lies under, by the check config
 * validation makes (config/load.ts): a route there would be refused, so none is written.
 */
export function reservedSegmentOf(path: string): string | undefined {
  const parsed = parseRoutePath(path)
  const first = parsed.ok ? parsed.pattern.keys[0] : undefined
  return first === undefined ? undefined : reservedSegmentFor(first)
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item))
}

function sortedKinds(kinds: Iterable<CredentialKind>): CredentialKind[] {
  const set = new Set(kinds)
  return CREDENTIAL_KINDS.filter((kind) => set.has(kind))
}

/** The rule fields and credentials of one operation, in the route schema's terms. */
function ruleOf(operation: Operation, at: string, problems: Problem[]): Record<string, unknown> {
  const policy = operation.policy
  if (policy.access !== 'authenticated') return { access: policy.access }
  const rule: Record<string, unknown> = { access: 'authenticated' }
  if (policy.roles.length > 0) rule.roles = policy.roles
  const alternatives = policy.alternatives
  if (alternatives.length === 0) return { ...rule, credentials: DEFAULT_CREDENTIALS }
  const credentials = sortedKinds(alternatives.flatMap((alt) => alt.credentials))
  Object.assign(rule, { credentials }, apiKeySettings(alternatives, at, problems))
  const [only] = alternatives
  if (alternatives.length === 1 && only && sameSet(only.credentials, credentials)) {
    if (only.scopes.length > 0) rule.scopes = only.scopes
    return rule
  }
  rule.any_of = alternatives.map((alt) => ({
    credentials: alt.credentials,
    ...(alt.scopes.length > 0 ? { scopes: alt.scopes } : {}),
  }))
  return rule
}

function apiKeySettings(
  alternatives: DeclaredAlternative[],
  at: string,
  problems: Problem[],
): Record<string, unknown> {
  const keys = alternatives.flatMap((alt) => (alt.apiKey ? [alt.apiKey] : []))
  if (keys.length === 0) return {}
  const sources = [...new Set(keys.map((key) => key.source))]
  const names = [...new Set(keys.filter((key) => key.source !== 'header').map((key) => key.name))]
  if (names.length > 1)
    problems.push({
      at,
      message: `API keys under several parameter names (${names.join(', ')}); the route reads "${names[0]}"`,
    })
  return {
    ...(sourcesDiffer(sources) ? { api_key_sources: sources } : {}),
    ...(names[0] ? { api_key_param: names[0] } : {}),
  }
}

function sourcesDiffer(sources: string[]): boolean {
  return !(sources.length === 1 && sources[0] === 'header')
}

/** Routes for every operation, grouped per path and policy, in document order. */
export function routesFromOperations(
  operations: readonly Operation[],
  options: RouteOptions,
  problems: Problem[],
): GeneratedRoute[] {
  const out: GeneratedRoute[] = []
  const byKey = new Map<string, GeneratedRoute>()
  for (const operation of operations) {
    const at = `paths.${operation.path}.${operation.method.toLowerCase()}`
    const path = routePath(options.prefix, operation.path, at, problems)
    if (path === undefined) continue
    const reserved = reservedSegmentOf(path)
    if (reserved) {
      problems.push({
        at,
        skipped: true,
        message: `"${path}" lies under /${reserved}, which the gateway serves itself: no route written (import with --prefix, such as --prefix /api)`,
      })
      continue
    }
    const rule = ruleOf(operation, at, problems)
    // The external issuers (--issuer) a route that takes external_jwt must name.
    if ((rule.credentials as string[] | undefined)?.includes('external_jwt'))
      rule.issuers = options.issuers ?? []
    const revocation = operation.revocation === 'strict' ? { revocation: 'strict' } : {}
    // Delegated tokens are our access tokens: a route that takes none has none to refuse.
    const delegated =
      operation.delegated === 'deny' && (rule.credentials as string[] | undefined)?.includes('jwt')
        ? { delegated: 'deny' }
        : {}
    const key = `${path} ${JSON.stringify({ ...rule, ...revocation, ...delegated })}`
    const label = `${operation.method} ${operation.path}${operation.operationId ? ` (${operation.operationId})` : ''}`
    const existing = byKey.get(key)
    if (existing) {
      ;(existing.route.methods as string[]).push(operation.method)
      existing.operations.push(label)
      continue
    }
    const generated: GeneratedRoute = {
      route: {
        path,
        ...(path.includes('{') ? {} : { match: 'exact' }),
        methods: [operation.method],
        upstream: options.upstream,
        ...rule,
        ...revocation,
        ...delegated,
      },
      operations: [label],
    }
    byKey.set(key, generated)
    out.push(generated)
  }
  return out
}
