import type { Principal } from '../authz/principal'
import { normalizeHeaderName } from '../config/header-names'

// RFC 9110 §7.6.1 connection-specific fields plus the de-facto ones proxies drop.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
])

// Client-sent identity claims an upstream (or a library in it) might trust, in the spellings of
// the auth proxies it may have been built for; removed before the gateway sets its own.
const IDENTITY_PREFIXES = [
  'x-auth-', // ours, and oauth2-proxy's X-Auth-Request-*
  'x-forwarded-', // oauth2-proxy's X-Forwarded-User/-Email/-Groups/-Preferred-Username, and every forwarding header
  'x-remote-', // Kubernetes front proxy: X-Remote-User, X-Remote-Group, X-Remote-Extra-*
  'remote-', // Authelia and CGI-style: Remote-User, Remote-Groups, Remote-Email, Remote-Name
  'x-webauth-', // Grafana auth proxy: X-WEBAUTH-USER and friends
  'x-pomerium-', // Pomerium: X-Pomerium-Jwt-Assertion, X-Pomerium-Claim-*
] as const
// One anchored alternation: a single test per header on the hot path.
const IDENTITY_PREFIX = new RegExp(`^(?:${IDENTITY_PREFIXES.join('|')})`)

// Spoofable routing and client-address headers: the gateway rewrites what it vouches for.
const CLIENT_SPOOFABLE = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-api-key',
])

/** Whether a name is the gateway's to drop, whatever the request's own `Connection` lists. */
function isAlwaysStripped(name: string, siteSpecific: ReadonlySet<string>): boolean {
  if (HOP_BY_HOP.has(name)) return true
  const normalized = normalizeHeaderName(name)
  return (
    siteSpecific.has(normalized) ||
    IDENTITY_PREFIX.test(normalized) ||
    CLIENT_SPOOFABLE.has(normalized) ||
    // X-HTTP-Method-Override and friends in any spelling.
    /^x-.*method-?override$/.test(normalized)
  )
}

// The decision above per header name, remembered per `strip_request_headers` set (one per
// configuration): clients send the same few dozen names again and again. Names are client-chosen,
// so the memo is bounded: past NAME_MEMO_CAPACITY names it is emptied and refilled.
export const NAME_MEMO_CAPACITY = 1024
const nameMemos = new WeakMap<ReadonlySet<string>, Map<string, boolean>>()

function alwaysStripped(name: string, siteSpecific: ReadonlySet<string>): boolean {
  let memo = nameMemos.get(siteSpecific)
  if (!memo) {
    memo = new Map()
    nameMemos.set(siteSpecific, memo)
  }
  let stripped = memo.get(name)
  if (stripped === undefined) {
    stripped = isAlwaysStripped(name, siteSpecific)
    if (memo.size >= NAME_MEMO_CAPACITY) memo.clear()
    memo.set(name, stripped)
  }
  return stripped
}

/** How many names the memo holds for one `strip_request_headers` set (tests check the bound). */
export function nameMemoSize(siteSpecific: ReadonlySet<string>): number {
  return nameMemos.get(siteSpecific)?.size ?? 0
}

function isStripped(
  name: string,
  connectionListed: ReadonlySet<string> | undefined,
  siteSpecific: ReadonlySet<string>,
): boolean {
  if (alwaysStripped(name, siteSpecific)) return true
  return (
    connectionListed !== undefined &&
    (connectionListed.has(name) || connectionListed.has(normalizeHeaderName(name)))
  )
}

/**
 * Header values are bytes, and servers disagree on how to read non-ASCII ones; identity values
 * outside printable ASCII (an external IdP's `josé`) are sent percent-encoded (UTF-8), which the
 * README documents. ASCII values, the common case, pass unchanged.
 */
export function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value)
}

export interface UpstreamHeaderOptions {
  principal?: Principal
  assertion?: string
  requestId: string
  clientIp?: string
  proto: string
  host: string
  forwardAuthorization: boolean
  /**
   * The route's `identity`: `assertion` sends X-Auth-Assertion and X-Auth-User-Id only (the
   * assertion's claims carry what the other headers would). Default `headers`: the full set.
   */
  identity?: 'headers' | 'assertion'
  /** Cookie names that belong to the gateway and never reach the upstream. */
  gatewayCookies: ReadonlySet<string>
  /** Keep `Upgrade: websocket` for a WebSocket handshake. */
  websocket: boolean
  /** Normalized names from SETTINGS.strip_request_headers (site-specific identity headers). */
  stripRequestHeaders: ReadonlySet<string>
}

function cookieName(pair: string): string {
  return pair.slice(0, Math.max(0, pair.indexOf('='))).trim()
}

function stripCookies(header: string, names: ReadonlySet<string>): string {
  // Two Cookie fields arrive joined by ", " (Fetch `Headers` combining), so a gateway cookie can
  // hide behind a comma inside one ";"-separated pair: drop it there too.
  return header
    .split(';')
    .map((pair) =>
      pair
        .split(',')
        .filter((part) => !names.has(cookieName(part)))
        .join(',')
        .trim(),
    )
    .filter((pair) => pair !== '')
    .join('; ')
}

// A principal object is shared by the requests of one cached token, key or session record, so its
// identity headers are encoded once per principal (a WeakMap: entries die with the principal).
// X-Auth-User-Id comes first: a route with `identity = "assertion"` sends that one alone.
const identityByPrincipal = new WeakMap<Principal, readonly [string, string][]>()

function identityHeaders(principal: Principal): readonly [string, string][] {
  let headers = identityByPrincipal.get(principal)
  if (!headers) {
    const list: [string, string][] = [
      ['x-auth-user-id', headerValue(principal.id)],
      ['x-auth-user', headerValue(principal.username)],
      ['x-auth-roles', headerValue(principal.roles.join(','))],
      ['x-auth-scopes', headerValue(principal.scopes.join(' '))],
    ]
    // Which external IdP vouched for the caller; the id is namespaced by the same name.
    if (principal.issuerName) list.push(['x-auth-issuer', principal.issuerName])
    headers = list
    identityByPrincipal.set(principal, headers)
  }
  return headers
}

/**
 * Builds the upstream's request headers from scratch: copies what the client sent minus everything
 * the gateway owns, then sets the gateway's own identity and forwarding headers.
 */
export function buildUpstreamHeaders(incoming: Headers, options: UpstreamHeaderOptions): Headers {
  const connection = incoming.get('connection')
  const connectionListed =
    connection === null
      ? undefined
      : new Set(
          connection
            .split(',')
            .map((token) => token.trim().toLowerCase())
            .filter(Boolean)
            .flatMap((token) => [token, normalizeHeaderName(token)]),
        )
  const out = new Headers()
  for (const [name, value] of incoming) {
    if (name === 'x-request-id' || isStripped(name, connectionListed, options.stripRequestHeaders)) continue
    if (name === 'authorization' && !options.forwardAuthorization) continue
    if (name === 'cookie') {
      const kept = stripCookies(value, options.gatewayCookies)
      if (kept) out.append('cookie', kept)
      continue
    }
    out.append(name, value)
  }
  // `append`, not `set`: every name below is one the loop dropped (hop-by-hop, identity and
  // forwarding prefixes, the client's own X-Request-Id), so there is nothing to replace, and
  // `set` pays a search of the list each time (profiled with `npm run bench`).
  if (options.websocket) {
    out.append('upgrade', 'websocket')
    out.append('connection', 'Upgrade')
  }

  const principal = options.principal
  if (!principal) out.append('x-auth-method', 'none')
  else if (options.identity === 'assertion') {
    // `sub`, `auth_method`, `username`, `roles`, `scope` and `idp` of the assertion say the rest.
    const [userId] = identityHeaders(principal)
    if (userId) out.append(userId[0], userId[1])
  } else {
    out.append('x-auth-method', principal.method)
    for (const [name, value] of identityHeaders(principal)) out.append(name, value)
  }
  if (principal && options.assertion) out.append('x-auth-assertion', options.assertion)
  out.append('x-request-id', options.requestId)
  if (options.clientIp) out.append('x-forwarded-for', options.clientIp)
  out.append('x-forwarded-proto', options.proto)
  out.append('x-forwarded-host', options.host)
  return out
}
