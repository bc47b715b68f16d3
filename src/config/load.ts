import type { core } from 'zod/mini'
import { buildRoleClosure, type RoleClosure } from '../authz/roles'
import { allowsMethod, DEFAULT_METHODS } from '../routing/methods'
import { reservedRouteProblem } from '../routing/reserved-segments'
import { parseRoutePath } from '../routing/route-pattern'
import { RouteTable } from '../routing/route-table'
import { type LoginProviderConfig, loginProviderProblems, loginProvidersSchema } from './login-providers'
import { parseRegistrationOverride } from './registration'
import {
  isOrigin,
  type RouteConfig,
  routeSchema,
  routesSchema,
  type Settings,
  settingsSchema,
} from './schema'

/**
 * The Worker variables the configuration is read from: a part of `Env` (src/env.ts), declared here
 * so that config/ imports nothing above it.
 */
export interface ConfigVars {
  ISSUER?: string
  UPSTREAM_URL?: string
  /** Raw values from wrangler.toml `[vars]`; validated here. */
  SETTINGS?: unknown
  ROUTES?: unknown
  /** `[[vars.LOGIN_PROVIDERS]]`; each names the secret holding its client secret. */
  LOGIN_PROVIDERS?: unknown
  /** "on" / "off": overrides SETTINGS.registration (local development sets "on" in .dev.vars). */
  REGISTRATION?: string
  /** "on" (or unset) / "off": the rate-limit bindings' layer (docs/rate-limiting.md). */
  RATE_LIMITING?: string
  /** A route's `upstream` may name any other var holding an origin. */
  [name: string]: unknown
}

/** A route after config validation: its upstream resolved to an origin, its path parsed. */
export interface CompiledRoute extends RouteConfig {
  index: number
  upstreamOrigin: string
  /** Match keys (route-pattern.ts: `PARAM_KEY` for a parameter, no key for `{rest*}`). */
  prefixKeys: string[]
  /** The route's own spelling per key (undefined for a parameter). */
  spellings: (string | undefined)[]
  /** A templated path without `{rest*}`: matches only its own depth. */
  exact: boolean
  /** An MCP route's RFC 8707 resource (normalized, no trailing slash); undefined otherwise. */
  resource: string | undefined
}

export interface GatewayConfig {
  issuer: string
  settings: Settings
  routes: CompiledRoute[]
  routeTable: RouteTable<CompiledRoute>
  roleClosure: RoleClosure
  /** SETTINGS.strip_request_headers, normalized, as a set: one lookup per forwarded header. */
  stripRequestHeaders: ReadonlySet<string>
  /** LOGIN_PROVIDERS by name, in configured order (the login page's buttons). */
  loginProviders: ReadonlyMap<string, LoginProviderConfig>
  /** The MCP routes by their resource identifier (RFC 8707), in route order. */
  mcpResources: ReadonlyMap<string, CompiledRoute>
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] }

function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`
  return out
}

function zodProblems(root: string, error: core.$ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(root, issue.path)}: ${issue.message}`)
}

function compileRoute(
  route: RouteConfig,
  index: number,
  env: ConfigVars,
  issuer: string,
  problems: string[],
): CompiledRoute | undefined {
  const at = `ROUTES[${index}]`
  let upstreamOrigin = route.upstream
  if (!isOrigin(route.upstream)) {
    const value = env[route.upstream]
    if (typeof value !== 'string' || !isOrigin(value)) {
      problems.push(
        `${at}.upstream: var ${route.upstream} is not set to an origin like "https://api.internal"`,
      )
      return undefined
    }
    upstreamOrigin = value
  }
  upstreamOrigin = upstreamOrigin.replace(/\/$/, '')
  const parsed = parseRoutePath(route.path, route.match)
  if (!parsed.ok) {
    problems.push(`${at}.path: ${parsed.problem}`)
    return undefined
  }
  const { keys: prefixKeys, spellings, exact } = parsed.pattern
  // The gateway's endpoints answer there first and other spellings are refused: never reachable.
  const reserved = reservedRouteProblem(route.path, prefixKeys)
  if (reserved) {
    problems.push(`${at}.path: ${reserved}`)
    return undefined
  }
  // The dev mailbox (src/email/dev-mailbox.ts) serves /dev while DEV_MAILBOX=1: reserved like /auth then.
  if (env.DEV_MAILBOX === '1' && prefixKeys[0] === 'dev') {
    problems.push(`${at}.path: "${route.path}" lies under /dev, which the dev mailbox serves (DEV_MAILBOX=1)`)
    return undefined
  }
  if (route.access === 'public' && (route.roles.length > 0 || route.scopes.length > 0 || route.any_of)) {
    problems.push(`${at}: a public route cannot require roles or scopes`)
  }
  if (route.delegated === 'deny' && opensToAnyone(route)) {
    problems.push(
      `${at}.delegated: a public route reads no credential, so "deny" would keep no app out (drop it, or make the route authenticated)`,
    )
  }
  if ((route.require_mfa || route.max_auth_age !== undefined) && opensToAnyone(route)) {
    problems.push(
      `${at}: a public route reads no credential, so require_mfa / max_auth_age would protect nothing (drop them, or make the route authenticated)`,
    )
  }
  anyOfProblems(route, at, problems)
  // A rule for a method the route refuses with 405 would never apply: most likely `methods` lacks it.
  for (const method of Object.keys(route.method_rules)) {
    if (!allowsMethod(route.methods, method))
      problems.push(`${at}.method_rules.${method}: the route does not allow ${method} (add it to methods)`)
  }
  const resource = mcpResource(route, issuer, at, problems)
  return { ...route, index, upstreamOrigin, prefixKeys, spellings, exact, resource }
}

/**
 * An RFC 8707 resource identifier as the gateway compares it: an absolute http(s) URL without
 * fragment, query or trailing slash (clients disagree on the slash; the spec's examples have none).
 * Undefined when `value` is not one.
 */
export function normalizeResource(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (!/^https?:$/.test(url.protocol) || url.hash !== '' || url.search !== '' || value.includes('#'))
    return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return url.href.replace(/\/+$/, '')
}

function mcpResource(route: RouteConfig, issuer: string, at: string, problems: string[]): string | undefined {
  if (!route.mcp) {
    if (route.resource !== undefined)
      problems.push(`${at}.resource: only an MCP route (mcp = true) has a resource`)
    if (route.mcp_rules.length > 0)
      problems.push(`${at}.mcp_rules: only an MCP route (mcp = true) has mcp_rules`)
    return undefined
  }
  // RFC 8707 / MCP: the server's token is never handed on (no token passthrough).
  if (route.forward_authorization)
    problems.push(
      `${at}.forward_authorization: an MCP route never forwards the client's token (no token passthrough)`,
    )
  if (!route.credentials.includes('jwt') || route.credentials.some((kind) => kind !== 'jwt'))
    problems.push(`${at}.credentials: an MCP route accepts only the gateway's access tokens (["jwt"])`)
  if (/[{}]/.test(route.path))
    problems.push(`${at}.path: an MCP route's path is a plain path, not a template`)
  // Without a valid ISSUER (reported on its own) there is no default to derive.
  if (route.resource === undefined && !isHttpUrl(issuer)) return undefined
  const resource = normalizeResource(route.resource ?? `${new URL(issuer).origin}${route.path}`)
  if (resource === undefined)
    problems.push(`${at}.resource: must be an absolute http(s) URL without query or fragment`)
  return resource
}

/**
 * Every rule of the route is public: `delegated = "deny"` would promise what it cannot keep. With
 * one non-public rule (a method rule, or the route's own) it guards the methods that load credentials.
 */
function opensToAnyone(route: RouteConfig): boolean {
  return (
    route.access === 'public' &&
    Object.values(route.method_rules).every((rule) => (rule.access ?? route.access) === 'public')
  )
}

/** An alternative naming a credential the route does not load could never hold. */
function anyOfProblems(route: RouteConfig, at: string, problems: string[]): void {
  const rules: [string, RouteConfig['any_of']][] = [[`${at}.any_of`, route.any_of]]
  for (const [method, rule] of Object.entries(route.method_rules)) {
    rules.push([`${at}.method_rules.${method}.any_of`, rule.any_of])
    if (rule.access === 'public' && rule.any_of)
      problems.push(`${at}.method_rules.${method}: a public rule cannot have any_of`)
  }
  for (const [where, alternatives] of rules) {
    alternatives?.forEach((alternative, index) => {
      for (const kind of alternative.credentials ?? []) {
        if (!route.credentials.includes(kind))
          problems.push(`${where}[${index}].credentials: "${kind}" is not in the route's credentials`)
      }
    })
  }
}

function findDuplicates(routes: readonly CompiledRoute[], problems: string[]): void {
  const seen = new Map<string, CompiledRoute>()
  for (const route of routes) {
    // Parameter names do not matter (`/items/{id}` is `/items/{item_id}`); exactness does.
    const at = `${route.host ?? '*'} ${route.prefixKeys.join('/')}${route.exact ? '' : '/*'}`
    for (const method of route.methods ?? DEFAULT_METHODS) {
      const earlier = seen.get(`${at} ${method}`)
      if (earlier) {
        problems.push(`ROUTES[${route.index}].path: duplicates ROUTES[${earlier.index}] ("${earlier.path}")`)
        break
      }
      seen.set(`${at} ${method}`, route)
    }
  }
}

/** Two MCP routes with one resource would accept each other's tokens. */
function findDuplicateResources(routes: readonly CompiledRoute[], problems: string[]): void {
  const seen = new Map<string, CompiledRoute>()
  for (const route of routes) {
    if (!route.resource) continue
    const earlier = seen.get(route.resource)
    if (earlier)
      problems.push(`ROUTES[${route.index}].resource: "${route.resource}" is ROUTES[${earlier.index}]'s too`)
    else seen.set(route.resource, route)
  }
}

function isLoopbackOrigin(value: string): boolean {
  try {
    return ['127.0.0.1', '[::1]', 'localhost'].includes(new URL(value).hostname)
  } catch {
    return false
  }
}

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol)
  } catch {
    return false
  }
}

/**
 * A structured var, which may also arrive as JSON text: `wrangler dev --var` and the dashboard give
 * strings (`npm start` passes LOGIN_PROVIDERS that way when its stand-ins run on other ports).
 */
function jsonVar(value: unknown, name: string, problems: string[]): unknown {
  if (value === undefined) return []
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    problems.push(`${name}: is a string but not valid JSON`)
    return []
  }
}

/** Validates every part of the configuration and reports all problems together. */
export function parseConfig(env: ConfigVars): ConfigResult {
  const problems: string[] = []
  const issuer = typeof env.ISSUER === 'string' ? env.ISSUER.replace(/\/$/, '') : ''
  if (!issuer) problems.push('ISSUER: must be set to the origin the gateway is reached at')
  else if (!isHttpUrl(issuer)) {
    problems.push('ISSUER: must be an http(s) URL')
  }
  const settings = settingsSchema.safeParse(env.SETTINGS ?? {})
  if (!settings.success) problems.push(...zodProblems('SETTINGS', settings.error))
  else if (settings.data.client_metadata_document_allow_hosts.length > 0 && !isLoopbackOrigin(issuer))
    problems.push(
      'SETTINGS.client_metadata_document_allow_hosts: a local stand-in only; allowed only while ISSUER is a loopback origin',
    )
  const registration = parseRegistrationOverride(env.REGISTRATION)
  if (!registration.ok) problems.push(registration.problem)
  // Read by rate-limit/limit.ts; a typo must not leave the layer on or off by surprise.
  if (env.RATE_LIMITING !== undefined && env.RATE_LIMITING !== 'on' && env.RATE_LIMITING !== 'off')
    problems.push('RATE_LIMITING: must be "on" or "off" (or unset: on)')
  const routes = routesSchema.safeParse(env.ROUTES ?? [])
  if (!routes.success) problems.push(...zodProblems('ROUTES', routes.error))
  const providers = loginProvidersSchema.safeParse(jsonVar(env.LOGIN_PROVIDERS, 'LOGIN_PROVIDERS', problems))
  if (!providers.success) problems.push(...zodProblems('LOGIN_PROVIDERS', providers.error))
  else {
    const fromVar = registration.ok && registration.value !== undefined
    const open = fromVar ? registration.value === true : settings.success && settings.data.registration
    const source = fromVar ? 'REGISTRATION = "on"' : 'SETTINGS.registration = true'
    problems.push(...loginProviderProblems(providers.data, { open, source }))
  }

  const compiled: CompiledRoute[] = []
  // Each route is checked on its own so that one malformed route does not hide the problems of
  // the others (or its own semantic ones): every problem is reported in one pass.
  const list = Array.isArray(env.ROUTES) ? (env.ROUTES as unknown[]) : []
  list.forEach((input, index) => {
    const route = routeSchema.safeParse(input)
    if (!route.success) return
    const result = compileRoute(route.data, index, env, issuer, problems)
    if (result) compiled.push(result)
  })
  findDuplicates(compiled, problems)
  findDuplicateResources(compiled, problems)
  const names = new Set(settings.success ? settings.data.external_issuers.map((issuer) => issuer.name) : [])
  for (const route of compiled) {
    if (settings.success) {
      for (const name of route.issuers) {
        if (!names.has(name))
          problems.push(`ROUTES[${route.index}].issuers: "${name}" is not in SETTINGS.external_issuers`)
      }
    }
    if (route.credentials.includes('external_jwt') && route.issuers.length === 0) {
      problems.push(`ROUTES[${route.index}].issuers: a route that accepts external_jwt must name its issuers`)
    }
  }
  if (problems.length > 0 || !settings.success || !routes.success || !registration.ok || !providers.success)
    return { ok: false, problems }
  const config: GatewayConfig = {
    issuer,
    settings: { ...settings.data, registration: registration.value ?? settings.data.registration },
    routes: compiled,
    routeTable: new RouteTable(compiled),
    roleClosure: buildRoleClosure(settings.data.role_hierarchy),
    stripRequestHeaders: new Set(settings.data.strip_request_headers),
    loginProviders: new Map(providers.data.map((provider) => [provider.name, provider])),
    mcpResources: new Map(compiled.flatMap((route) => (route.resource ? [[route.resource, route]] : []))),
  }
  return { ok: true, config }
}

// Parsed once per isolate: Workers hand every request of an isolate the same `env` object.
const cache = new WeakMap<object, ConfigResult>()

export function loadConfig(env: ConfigVars): ConfigResult {
  let result = cache.get(env)
  if (!result) {
    result = parseConfig(env)
    cache.set(env, result)
  }
  return result
}
