import type { AuditSink } from '../audit'
import type { Principal } from '../authz/principal'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import type { Env } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { logEvent } from '../log'
import { loginRedirectFor } from '../sessions'
import { assertionFor, loadKeyRing } from '../tokens'
import { explainOutcome } from './explanation'
import { forwardRequest } from './forward'
import { buildUpstreamHeaders } from './headers'
import { judgeMcpRequest } from './mcp'
import { clientResponse, GATEWAY_COOKIES } from './response'
import { decideRequest, type StageOutcome } from './stages'
import { guardEventStream, isEventStream } from './stream-guard'
import { principalRecheck, type RecheckContext } from './websocket-recheck'
import { relayWebSocket, type SocketGuard } from './websocket-relay'

export { GATEWAY_COOKIES } from './response'

/** The raw query minus the route's API key parameter (byte for byte otherwise): keys never go upstream. */
export function stripQueryParam(query: string, name: string): string {
  if (query.length <= 1) return query
  const kept = query
    .slice(1)
    .split('&')
    .filter((pair) => {
      const rawName = pair.split('=', 1)[0] ?? ''
      try {
        return decodeURIComponent(rawName.replace(/\+/g, ' ')) !== name
      } catch {
        return true
      }
    })
  return kept.length === 0 ? '' : `?${kept.join('&')}`
}

// Per route, computed on its first request: the cookie names kept from the upstream. Keyed by the
// compiled route object, so a new configuration (a new env) starts afresh; as many entries as routes.
const cookieNamesByRoute = new WeakMap<CompiledRoute, ReadonlySet<string>>()

function gatewayCookiesFor(route: CompiledRoute): ReadonlySet<string> {
  if (!route.api_key_sources.includes('cookie')) return GATEWAY_COOKIES
  let names = cookieNamesByRoute.get(route)
  if (!names) {
    names = new Set([...GATEWAY_COOKIES, route.api_key_param])
    cookieNamesByRoute.set(route, names)
  }
  return names
}

// Per route: its literal prefix in its own spelling (`/Api/V1`), when every prefix segment is a
// literal; null for templates. Keyed by the compiled route, so one entry per route.
const spelledPrefixByRoute = new WeakMap<CompiledRoute, string | null>()

function spelledPrefix(route: Pick<CompiledRoute, 'prefixKeys' | 'spellings'>): string | null {
  let prefix = spelledPrefixByRoute.get(route as CompiledRoute)
  if (prefix === undefined) {
    const { spellings } = route
    prefix =
      spellings.length === route.prefixKeys.length && spellings.every((spelling) => spelling !== undefined)
        ? `/${spellings.join('/')}`
        : null
    spelledPrefixByRoute.set(route as CompiledRoute, prefix)
  }
  return prefix
}

/**
 * The path as authorized: the route's literal segments in the route's own spelling, parameters and
 * the rest byte for byte. Matching ignores case and compatibility forms, so without this
 * `/API/Public/x` would be authorized by the public rule yet reach a case-sensitive upstream as a
 * different path. A request that already spells a literal prefix the route's way (the usual case)
 * is returned as it is, without splitting it into segments.
 */
export function authorizedPath(
  route: Pick<CompiledRoute, 'prefixKeys' | 'spellings'>,
  canonicalPath: string,
): string {
  if (route.prefixKeys.length === 0) return canonicalPath
  const prefix = spelledPrefix(route)
  const SLASH = 0x2f
  if (
    prefix !== null &&
    canonicalPath.startsWith(prefix) &&
    (canonicalPath.length === prefix.length || canonicalPath.charCodeAt(prefix.length) === SLASH)
  )
    return canonicalPath
  const segments = canonicalPath.split('/')
  route.spellings.forEach((spelling, index) => {
    if (spelling !== undefined) segments[index + 1] = spelling
  })
  return segments.join('/')
}

function forwardedPath(route: CompiledRoute, authorized: string): string {
  if (!route.strip_prefix || route.prefixKeys.length === 0) return authorized
  // Drop exactly as many segments as the prefix has; the rest stays byte for byte.
  const segments = authorized.split('/').slice(1 + route.prefixKeys.length)
  return `/${segments.join('/')}`
}

/**
 * The request path of proxied traffic, as four stages: canonical path + route match → load
 * identity → authorize → rewrite headers and forward. Nothing is forwarded unless every stage
 * passed.
 */
export interface ProxyContext {
  request: Request
  env: Env
  waitUntil: (promise: Promise<unknown>) => void
  requestId: string
  config: GatewayConfig
  /** Audit events of credential checks (a failed Basic login, a key's use): src/audit/record.ts. */
  audit?: AuditSink
}

/** What ends a long-lived answer (a WebSocket, an event stream) with its credential. */
function credentialGuard(context: RecheckContext): SocketGuard {
  const { principal, config } = context
  return {
    expiresAtMs: principal.expiresAt === undefined ? undefined : principal.expiresAt * 1000,
    recheckIntervalMs: config.settings.websocket_recheck_seconds * 1000,
    recheck: principalRecheck(context),
  }
}

export async function proxyRequest(proxy: ProxyContext): Promise<Response> {
  const { config, requestId, request, env } = proxy
  const authenticatedAtMs = Date.now() // a WebSocket's re-check compares against this
  let outcome = await decideRequest(
    { request, env, config, waitUntil: proxy.waitUntil, audit: proxy.audit },
    (request, route, error) => loginRedirectFor(request, route.credentials, error, config.issuer),
  )
  // An MCP server's message is read and judged (mcp.ts); its bytes are what is forwarded.
  let mcpBody: Uint8Array | undefined
  if (outcome.route?.resource) ({ outcome, body: mcpBody } = await judgeMcpRequest(request, outcome, config))
  if (outcome.stage !== 'allowed') {
    if (config.settings.log_level === 'debug')
      logEvent('debug', 'request_denied', {
        request_id: requestId,
        ...explainOutcome(request.method, outcome, config),
      })
    if (outcome.redirect) {
      outcome.redirect.headers.set('x-request-id', requestId)
      return outcome.redirect
    }
    throw outcome.error ?? new GatewayError('internal_error', 'The request was neither allowed nor refused.')
  }
  const { target, path, route, rule, principal } = outcome as Required<
    Pick<StageOutcome, 'target' | 'path' | 'route' | 'rule'>
  > &
    StageOutcome

  const assertion = principal
    ? await assertionFor(await loadKeyRing(env.SIGNING_KEYS), principal, {
        issuer: config.issuer,
        audience: route.upstreamOrigin,
        ttlSeconds: config.settings.assertion_ttl_seconds,
      })
    : undefined
  const websocket = request.headers.get('upgrade')?.toLowerCase() === 'websocket'
  const headers = buildUpstreamHeaders(request.headers, {
    principal,
    assertion,
    requestId,
    clientIp: request.headers.get('cf-connecting-ip') ?? undefined,
    proto: target.scheme,
    host: target.host,
    forwardAuthorization: route.forward_authorization,
    identity: route.identity,
    gatewayCookies: gatewayCookiesFor(route),
    websocket,
    stripRequestHeaders: config.stripRequestHeaders,
  })
  const upstream = await forwardRequest({
    method: request.method,
    url:
      route.upstreamOrigin +
      forwardedPath(route, authorizedPath(route, path.path)) +
      (route.api_key_sources.includes('query')
        ? stripQueryParam(target.query, route.api_key_param)
        : target.query),
    headers,
    body: mcpBody ?? (request.method === 'GET' || request.method === 'HEAD' ? null : request.body),
    timeoutMs: route.timeout_ms,
  })
  // Only a long-lived answer (a WebSocket, an event stream) builds its guard: not the hot path.
  const guard = () =>
    credentialGuard({
      request,
      env,
      config,
      route,
      rule,
      principal: principal as Principal,
      handshakeAtMs: authenticatedAtMs,
    })
  // The upstream's response goes back as it is unless something must change (response.ts): by
  // default it carries no X-Request-Id of ours, which would cost a copy of every response.
  const requestIdHeader = config.settings.response_request_id ? requestId : undefined
  if (upstream.webSocket) {
    // An authenticated socket is relayed, so its credential's expiry and revocation can end it.
    const webSocket = principal ? relayWebSocket(upstream.webSocket, guard()) : undefined
    return clientResponse(upstream, { requestId: requestIdHeader, webSocket })
  }
  // An authenticated event stream ends with its credential, as a WebSocket does.
  if (principal && upstream.body && isEventStream(upstream))
    return clientResponse(upstream, {
      requestId: requestIdHeader,
      body: guardEventStream(upstream.body, guard()),
    })
  return clientResponse(upstream, { requestId: requestIdHeader })
}
