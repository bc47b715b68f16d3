import { GatewayError } from '../errors/gateway-error'
import type { CanonicalPath } from './canonical-path'

/**
 * What the table needs to know of a route. Routing sits below config (config compiles routes into
 * a table, the proxy matches against it), so it names only these fields, not the config schema.
 */
export interface RoutableRoute {
  /** Optional `host` or `host:port` the route is limited to (lowercase). */
  host?: string
  /** The methods the route takes; absent = every method. */
  methods?: readonly string[]
  /** The match keys of the route's path prefix, as `canonicalizePath` computes them. */
  prefixKeys: readonly string[]
}

interface TrieNode<R> {
  children: Map<string, TrieNode<R>>
  routes: R[]
}

function newNode<R>(): TrieNode<R> {
  return { children: new Map(), routes: [] }
}

// "api.example." (a fully qualified name) is the same host as "api.example" to DNS and to every
// upstream: without this a host-specific route would be skipped for the dotted spelling.
function hostKey(host: string): string {
  return host.replace(/\.(?=(:\d+)?$)/, '')
}

function allowsMethod(route: RoutableRoute, method: string): boolean {
  const methods = route.methods
  if (!methods) return true
  return methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))
}

/**
 * Segment trie of route prefixes: a lookup walks at most one node per path segment, whatever the
 * number of routes. Host-specific routes live in their own trie and win over host-less ones.
 * The deepest node with routes decides; if none of its routes takes the method the answer is 405,
 * never a fall-back to a shorter (possibly weaker) prefix.
 */
export class RouteTable<R extends RoutableRoute> {
  private readonly anyHost = newNode<R>()
  private readonly byHost = new Map<string, TrieNode<R>>()

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
  }

  /** The route for a request, or a 404/405 GatewayError. `host` is lowercase, with port if any. */
  match(method: string, host: string, path: CanonicalPath): R {
    const hostRoot = this.byHost.size > 0 ? this.byHost.get(hostKey(host)) : undefined
    const candidates = (hostRoot && deepest(hostRoot, path.keys)) ?? deepest(this.anyHost, path.keys)
    if (!candidates) throw new GatewayError('not_found', 'No route matches this path.')
    for (const route of candidates) if (allowsMethod(route, method)) return route
    throw new GatewayError('method_not_allowed', `This route does not accept ${safeMethod(method)}.`)
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
