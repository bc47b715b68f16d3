import { GatewayError } from '../errors/gateway-error'
import type { CanonicalPath } from './canonical-path'
import { allowedMethods, allowsMethod } from './methods'
import { SegmentAliases } from './segment-aliases'

/**
 * What the table needs to know of a route. Routing sits below config (config compiles routes into
 * a table, the proxy matches against it), so it names only these fields, not the config schema.
 */
export interface RoutableRoute {
  /** Optional `host` or `host:port` the route is limited to (lowercase). */
  host?: string
  /** The methods the route takes; absent = `DEFAULT_METHODS`. */
  methods?: readonly string[]
  /** The match keys of the route's path prefix, as `canonicalizePath` computes them. */
  prefixKeys: readonly string[]
  /** Whether an escaped escape (`%25` + two hex digits) may reach this route's upstream. */
  allow_encoded_percent?: boolean
}

interface TrieNode<R> {
  children: Map<string, TrieNode<R>>
  routes: R[]
}

function newNode<R>(): TrieNode<R> {
  return { children: new Map(), routes: [] }
}

/**
 * "api.example." (a fully qualified name) is the same host as "api.example" to DNS and to every
 * upstream: without this a host-specific route would be skipped for the dotted spelling.
 */
function hostKey(host: string): string {
  return host.replace(/\.(?=(:\d+)?$)/, '')
}

/** "api.example.com:8443" → "api.example.com"; undefined when the host names no port. */
function withoutPort(host: string): string | undefined {
  const colon = host.lastIndexOf(':')
  // An IPv6 literal ("[::1]") holds colons of its own; its port, if any, follows the "]".
  return colon > host.lastIndexOf(']') ? host.slice(0, colon) : undefined
}

/**
 * Segment trie of route prefixes: a lookup walks at most one node per path segment, whatever the
 * number of routes. Host-specific routes live in their own tries and win over host-less ones: a
 * route for `host:port` first, then one for the bare host (which covers the host on every port),
 * then the host-less routes. The deepest node with routes decides; if none of its routes takes the
 * method the answer is 405, never a fall-back to a shorter (possibly weaker) prefix.
 */
export class RouteTable<R extends RoutableRoute> {
  private readonly anyHost = newNode<R>()
  private readonly byHost = new Map<string, TrieNode<R>>()
  private readonly aliases: SegmentAliases

  constructor(routes: readonly R[]) {
    for (const route of routes) {
      let root = this.anyHost
      if (route.host) {
        root = this.byHost.get(hostKey(route.host)) ?? newNode<R>()
        this.byHost.set(hostKey(route.host), root)
      }
      let node = root
      for (const key of route.prefixKeys) {
        let child = node.children.get(key)
        if (!child) {
          child = newNode<R>()
          node.children.set(key, child)
        }
        node = child
      }
      node.routes.push(route)
    }
    this.aliases = new SegmentAliases(routes.flatMap((route) => route.prefixKeys))
  }

  /**
   * The route for a request, or a GatewayError: 400 for a segment that aliases a route segment
   * under another case folding or an escaped escape the route does not allow, 404, or 405 with
   * `Allow`. `host` is lowercase, with a port if the request named one.
   */
  match(method: string, host: string, path: CanonicalPath): R {
    this.aliases.check(path)
    const candidates = this.candidates(host, path.keys)
    if (!candidates) throw new GatewayError('not_found', 'No route matches this path.')
    const route = candidates.find((candidate) => allowsMethod(candidate.methods, method))
    if (!route) {
      throw new GatewayError('method_not_allowed', `This route does not accept ${safeMethod(method)}.`, {
        allow: allowedMethods(candidates),
      })
    }
    if (path.encodedPercent && !route.allow_encoded_percent) {
      throw new GatewayError(
        'invalid_path',
        'The request path was rejected: it contains an encoded "%" followed by two hex digits (an escaped escape), which this route does not allow.',
      )
    }
    return route
  }

  private candidates(host: string, keys: readonly string[]): R[] | undefined {
    if (this.byHost.size > 0) {
      const key = hostKey(host)
      const exact = this.byHost.get(key)
      const found = exact && deepest(exact, keys)
      if (found) return found
      const bare = withoutPort(key)
      const anyPort = bare === undefined ? undefined : this.byHost.get(bare)
      const foundAnyPort = anyPort && deepest(anyPort, keys)
      if (foundAnyPort) return foundAnyPort
    }
    return deepest(this.anyHost, keys)
  }
}

function deepest<R>(root: TrieNode<R>, keys: readonly string[]): R[] | undefined {
  let node = root
  let found = root.routes.length > 0 ? root.routes : undefined
  for (const key of keys) {
    const child = node.children.get(key)
    if (!child) break
    node = child
    if (node.routes.length > 0) found = node.routes
  }
  return found
}

function safeMethod(method: string): string {
  return /^[A-Z]{1,16}$/.test(method) ? method : 'this method'
}
