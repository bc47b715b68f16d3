/**
 * The importer's routes, run through the real route compiler and policy, give every operation of a
 * document exactly the access it declares: checked operation by operation against an independent
 * reading of the document (below), for a grid of callers (credential kind × roles × scopes).
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import fastapi from '../examples/fastapi/openapi.json'
import { checkOperations, samplePath } from '../scripts/lib/openapi-check'
import { routesFromOperations } from '../scripts/lib/openapi-routes'
import { declaredOperations, HTTP_METHODS, type Problem } from '../scripts/lib/openapi-security'
import { decide, ruleFor } from '../src/authz/policy'
import type { Principal } from '../src/authz/principal'
import { effectiveRoles } from '../src/authz/roles'
import { type CompiledRoute, type GatewayConfig, parseConfig } from '../src/config/load'
import type { Env } from '../src/env'
import { GatewayError } from '../src/errors/gateway-error'
import { canonicalizePath } from '../src/routing/canonical-path'
import forgeYaml from './fixtures/openapi/forge-api.yaml?raw'

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI documents are read as untyped JSON
type Json = Record<string, any>
const KINDS: Principal['method'][] = ['jwt', 'api_key', 'basic', 'session', 'external_jwt']
const ROLE_SETS = [[], ['user'], ['editor'], ['admin']]

function importDocument(document: Json, defaultPolicy: 'deny' | 'authenticated' | 'public' = 'deny') {
  const problems: Problem[] = []
  const operations = declaredOperations(document, { defaultPolicy, issuers: [] }, problems)
  const routes = routesFromOperations(operations, { upstream: 'UPSTREAM_URL', prefix: '' }, problems)
  const result = parseConfig({ ...env, ROUTES: routes.map((generated) => generated.route) } as Env)
  if (!result.ok) throw new Error(result.problems.join('\n'))
  return { config: result.config, problems, operations }
}

/** The gateway's answer: the route the table picks, the credential it loads, the policy's decision. */
function gatewayAllows(config: GatewayConfig, method: string, path: string, caller: Principal): boolean {
  let route: CompiledRoute
  try {
    route = config.routeTable.match(method, 'gateway.test', canonicalizePath(samplePath('', path)))
  } catch (error) {
    if (error instanceof GatewayError) return false
    throw error
  }
  const rule = ruleFor(route, method)
  if (rule.access === 'public') return true
  if (rule.access === 'deny' || !route.credentials.includes(caller.method)) return false
  return decide(rule, caller, config.roleClosure).allow
}

/** The document's own answer, read straight from it (OpenAPI 3 security semantics). */
function declaredAllows(
  document: Json,
  operation: Json,
  caller: Principal,
  closure: GatewayConfig['roleClosure'],
): boolean {
  const security = operation.security ?? document.security
  if (security === undefined) return false // --default deny
  if (security.length === 0 || security.some((req: Json) => Object.keys(req).length === 0)) return true
  const roles: string[] | undefined = operation['x-gateway-roles']
  if (roles && !roles.some((role) => effectiveRoles(caller.roles, closure).has(role))) return false
  const schemes = document.components.securitySchemes
  return security.some((requirement: Json) =>
    Object.entries(requirement).every(([name, scopes]) => {
      const scheme = schemes[name]
      const kind =
        scheme.type === 'apiKey'
          ? 'api_key'
          : scheme.type === 'http' && scheme.scheme === 'basic'
            ? 'basic'
            : 'jwt'
      return kind === caller.method && (scopes as string[]).every((scope) => caller.scopes.includes(scope))
    }),
  )
}

function scopeSets(document: Json, operation: Json): string[][] {
  const mentioned = new Set<string>(['unrelated'])
  for (const requirement of operation.security ?? document.security ?? [])
    for (const scopes of Object.values(requirement as Json))
      for (const scope of scopes as string[]) mentioned.add(scope)
  const all = [...mentioned]
  const sets: string[][] = [[]]
  for (const scope of all) for (const set of [...sets]) sets.push([...set, scope])
  return sets
}

function* callers(document: Json, operation: Json): Generator<Principal> {
  for (const method of KINDS)
    for (const roles of ROLE_SETS)
      for (const scopes of scopeSets(document, operation))
        yield { method, id: 'u1', username: 'u', roles, scopes }
}

/** Operations whose declaration the importer reported as not (fully) expressible. */
function reported(problems: Problem[]): Set<string> {
  return new Set(problems.map((problem) => problem.at.split('.security')[0] as string))
}

function checkEveryOperation(document: Json) {
  const { config, problems } = importDocument(document)
  const inexact = reported(problems)
  let checked = 0
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const lower of HTTP_METHODS) {
      const operation = (item as Json)[lower]
      if (!operation) continue
      const method = lower.toUpperCase()
      for (const caller of callers(document, operation)) {
        const gateway = gatewayAllows(config, method, path, caller)
        const declared = declaredAllows(document, operation, caller, config.roleClosure)
        const where = `${method} ${path} as ${JSON.stringify(caller)}`
        // Where a construct could not be expressed the gateway may refuse more, never allow more.
        if (inexact.has(`paths.${path}.${lower}`)) expect(declared || !gateway, where).toBe(true)
        else expect(gateway, where).toBe(declared)
        checked++
      }
    }
  }
  return { checked, problems }
}

describe('the FastAPI example: every operation gets exactly the access it declares', () => {
  it('imports without problems and agrees with the document for every caller', () => {
    const { checked, problems } = checkEveryOperation(fastapi as Json)
    expect(problems).toEqual([])
    expect(checked).toBeGreaterThan(500)
  })

  it('denies the operation that declares no security under --default deny, and opens it with public', () => {
    const caller: Principal = {
      method: 'jwt',
      id: 'u',
      username: 'u',
      roles: ['admin'],
      scopes: ['me', 'items'],
    }
    expect(gatewayAllows(importDocument(fastapi as Json).config, 'GET', '/version', caller)).toBe(false)
    expect(
      gatewayAllows(importDocument(fastapi as Json, 'public').config, 'GET', '/version', {
        ...caller,
        method: 'basic',
      }),
    ).toBe(true)
  })

  it('answers 405 for a method no operation declares, on a path that has operations', () => {
    const { config } = importDocument(fastapi as Json)
    expect(() => config.routeTable.match('POST', 'gateway.test', canonicalizePath('/items/1'))).toThrowError(
      expect.objectContaining({ code: 'method_not_allowed', allow: ['GET', 'HEAD', 'DELETE'] }),
    )
  })
})

describe('a large synthetic GitHub-like spec (YAML, 100+ paths, seven security schemes)', () => {
  const forge = parseYaml(forgeYaml) as Json

  it('agrees with the document operation by operation, refusing more only where it reported a problem', () => {
    const { checked, problems } = checkEveryOperation(forge)
    expect(Object.keys(forge.paths).length).toBeGreaterThanOrEqual(100)
    expect(checked).toBeGreaterThan(10_000)
    const at = (skipped: boolean) =>
      problems
        .filter((problem) => !!problem.skipped === skipped)
        .map((problem) => problem.at)
        .sort()
    expect(at(false)).toEqual([
      'paths./admin/hooks/{hook_id}/pings.post.x-gateway-timeout',
      'paths./enterprise/settings/license.get.security[0]',
      'paths./enterprise/stats/all.get.security[0]',
      'paths./repos/{owner}/{repo}/tarball/{ref}.tar.gz.get',
      'paths./repos/{owner}/{repo}/traffic/views.get.security[0]',
    ])
    // Its /admin operations lie where the gateway's admin API answers: skipped, see below.
    expect(at(true)).toEqual([
      'paths./admin/hooks/{hook_id}/pings.post',
      'paths./admin/keys.get',
      'paths./admin/users.post',
      'paths./admin/users/{username}.delete',
    ])
  })

  it('routes a literal sibling by its own rule, not by the template beside it', () => {
    const { config } = importDocument(forge)
    const match = (path: string) =>
      config.routeTable.match('GET', 'gateway.test', canonicalizePath(path)).path
    expect(match('/repos/o/r/pulls/comments')).toBe('/repos/{owner}/{repo}/pulls/comments')
    expect(match('/repos/o/r/pulls/7')).toBe('/repos/{owner}/{repo}/pulls/{pull_number}')
    expect(match('/gists/starred')).toBe('/gists/starred')
    expect(match('/gists/abc')).toBe('/gists/{gist_id}')
  })
})

describe("operations under the gateway's own segments (/admin, /auth, /.well-known, /healthz)", () => {
  const forge = parseYaml(forgeYaml) as Json

  function generate(prefix: string) {
    const problems: Problem[] = []
    const operations = declaredOperations(forge, { defaultPolicy: 'deny', issuers: [] }, problems)
    const routes = routesFromOperations(operations, { upstream: 'UPSTREAM_URL', prefix }, problems)
    return { routes, problems }
  }

  it('writes no route the config would refuse: /admin/... without --prefix is skipped, with the reason', () => {
    const { routes, problems } = generate('')
    expect(routes.filter((generated) => /^\/admin(\/|$)/i.test(generated.route.path as string))).toEqual([])
    expect(problems).toContainEqual({
      at: 'paths./admin/users/{username}.delete',
      skipped: true,
      message:
        '"/admin/users/{username}" lies under /admin, which the gateway serves itself: no route written (import with --prefix, such as --prefix /api)',
    })
    // What it did write, the Worker's own validator accepts.
    const result = parseConfig({ ...env, ROUTES: routes.map((generated) => generated.route) } as Env)
    expect(result.ok ? [] : result.problems).toEqual([])
  })

  it('under --prefix the same operations get routes, and nothing is skipped', () => {
    const { routes, problems } = generate('/forge')
    expect(problems.filter((problem) => problem.skipped)).toEqual([])
    expect(routes.map((generated) => generated.route.path)).toContain('/forge/admin/users/{username}')
    const result = parseConfig({ ...env, ROUTES: routes.map((generated) => generated.route) } as Env)
    expect(result.ok ? [] : result.problems).toEqual([])
  })

  it.each([
    ['/auth/token', 'auth'],
    ['/.well-known/jwks.json', '.well-known'],
    ['/HEALTHZ', 'healthz'],
    ['/Admin/{id}', 'admin'],
  ])('%s in a document is skipped as lying under /%s', (path, segment) => {
    const document = {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: { [path]: { get: { security: [] } } },
    }
    const problems: Problem[] = []
    const operations = declaredOperations(document, { defaultPolicy: 'deny', issuers: [] }, problems)
    const routes = routesFromOperations(operations, { upstream: 'UPSTREAM_URL', prefix: '' }, problems)
    expect(routes).toEqual([])
    expect(problems).toEqual([
      expect.objectContaining({ skipped: true, message: expect.stringContaining(`under /${segment},`) }),
    ])
  })
})

describe('x-gateway-delegated: an operation not for apps acting for a user', () => {
  const document = {
    openapi: '3.1.0',
    info: { title: 'bank', version: '1' },
    'x-gateway-delegated': 'deny',
    components: {
      securitySchemes: {
        oauth: { type: 'oauth2', flows: { password: { tokenUrl: '/auth/token', scopes: { read: 'r' } } } },
        key: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
    security: [{ oauth: ['read'] }, { key: [] }],
    paths: {
      '/transfers': { post: { operationId: 'transfer' } },
      '/balance': { get: { operationId: 'balance', 'x-gateway-delegated': 'allow' } },
      '/status': { get: { operationId: 'status', security: [] } },
      '/keys-only': { get: { operationId: 'keys_only', security: [{ key: [] }] } },
      '/typo': { get: { operationId: 'typo', 'x-gateway-delegated': 'no' } },
      '/open': { get: { operationId: 'open', security: [], 'x-gateway-delegated': 'deny' } },
    },
  }
  const delegated: Principal = {
    method: 'jwt',
    id: 'u1',
    username: 'u',
    roles: ['user'],
    scopes: ['read'],
    clientId: 'photo-app',
  }

  function generate() {
    const problems: Problem[] = []
    const operations = declaredOperations(document, { defaultPolicy: 'deny', issuers: [] }, problems)
    const routes = routesFromOperations(operations, { upstream: 'UPSTREAM_URL', prefix: '' }, problems)
    return { operations, routes, problems }
  }

  it('writes delegated = "deny" where the document (or the operation) says so and a token could come', () => {
    const { routes } = generate()
    const byPath = Object.fromEntries(routes.map(({ route }) => [route.path, route.delegated]))
    expect(byPath).toEqual({
      '/transfers': 'deny', // the document's deny
      '/balance': undefined, // the operation's allow wins
      '/status': undefined, // public: no credential is read
      '/keys-only': undefined, // no access token is accepted: none to refuse
      '/typo': 'deny', // an unknown value fails closed
      '/open': undefined,
    })
  })

  it('reports an unknown value and a deny on a public operation, never a document-wide deny on one', () => {
    const { problems } = generate()
    expect(problems).toEqual([
      { at: 'paths./typo.get.x-gateway-delegated', message: 'must be "allow" or "deny"' },
      {
        at: 'paths./open.get',
        message:
          'x-gateway-delegated: deny on a public operation is ignored (a public route reads no credential)',
      },
    ])
  })

  it('the gateway refuses a delegated token exactly where the document does, and lets the user in', () => {
    const { routes } = generate()
    const result = parseConfig({ ...env, ROUTES: routes.map((generated) => generated.route) } as Env)
    if (!result.ok) throw new Error(result.problems.join('\n'))
    const own: Principal = { ...delegated, firstParty: true }
    expect(gatewayAllows(result.config, 'POST', '/transfers', delegated)).toBe(false)
    expect(gatewayAllows(result.config, 'POST', '/transfers', own)).toBe(true)
    expect(gatewayAllows(result.config, 'POST', '/transfers', { ...delegated, method: 'api_key' })).toBe(true)
    expect(gatewayAllows(result.config, 'GET', '/balance', delegated)).toBe(true)
    expect(gatewayAllows(result.config, 'GET', '/status', delegated)).toBe(true)
  })

  it('routes check finds a table without delegated = "deny" weaker, and the imported one as declared', () => {
    const { operations, routes } = generate()
    const findings = (table: Record<string, unknown>[]) => {
      const result = parseConfig({ ...env, ROUTES: table } as Env)
      if (!result.ok) throw new Error(result.problems.join('\n'))
      return checkOperations(result.config, operations, { prefix: '' })
    }
    const imported = findings(routes.map((generated) => generated.route))
    expect(imported.map((finding) => finding.kind)).toEqual(operations.map(() => 'same'))
    const lax = findings(routes.map(({ route }) => ({ ...route, delegated: 'allow' })))
    const transfer = lax.find((finding) => finding.operation === 'POST /transfers (transfer)')
    expect(transfer).toMatchObject({ kind: 'weaker' })
    expect(transfer?.detail).toBe(
      'declared jwt, scopes read, delegated deny OR api_key; configured jwt, scopes read OR api_key',
    )
    expect(lax.find((finding) => finding.operation === 'GET /balance (balance)')?.kind).toBe('same')
  })
})
