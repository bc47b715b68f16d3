import { GatewayError } from '../errors/gateway-error'
import type { CanonicalPath } from './canonical-path'
import { allowedMethods, allowsMethod } from './methods'
import { refuseReservedPath } from './reserved-segments'
import { PARAM_KEY } from './route-pattern'
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
  /**
   * The match keys of the route's path, as `canonicalizePath` computes them, with `PARAM_KEY` for
   * a parameter segment (route-pattern.ts); a trailing `{rest*}` is not a key.
   */
  prefixKeys: readonly string[]
  /** True: the route matches exactly its own depth (a templated path without `{rest*}`). */
  exact?: boolean
  /** Whether an escaped escape (`%25` + two hex digits) may reach this route's upstream. */
  allow_encoded_percent?: boolean
}

interface TrieNode<R> {
  /** Literal segments. */
  children: Map<string, TrieNode<R>>
  /** The parameter segment (every parameter name is the same child: names do not match). */
  param?: TrieNode<R>
  /** Routes ending here that cover the paths below too (plain prefixes, `{rest*}`). */
  open: R[]
  /** Every route ending here, exact ones first: the candidates when the path ends here. */
  here: R[]
  exactCount: number
}

function newNode<R>(): TrieNode<R> {
  return { children: new Map(), open: [], here: [], exactCount: 0 }
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
 * Segment trie of route paths. Host-specific routes live in their own tries and win over host-less
 * ones: a route for `host:port` first, then one for the bare host (which covers the host on every
 * port), then the host-less routes.
 *
 * Which route matches: of the routes whose pattern matches the path, the most specific one,
 * compared segment by segment from the left: a literal segment beats a parameter (OpenAPI: concrete
 * paths before templated ones), and a parameter beats "below a shorter route" (so the deepest prefix
 * wins, as it always did). The trie finds it by a literal-first walk that backtracks into the
 * parameter child only when the literal subtree holds no match at all. Two consequences, both wanted:
 * - `/users/me` (exact) and `/users/{id}/items`: `/users/me/items` is `/users/{id}/items`, the
 *   route the upstream itself would serve it by, not a 404.
 * - `/api/admin` (a prefix) and `/api/{version}/public`: `/api/admin/public` is `/api/admin`, since a
 *   literal-first comparison decides at `admin`: a parameter route can never take a request out of
 *   a literal route's subtree into a weaker rule.
 * Each trie node has one chain of ancestors, so the walk visits a node at most once: the cost is
 * bounded by the table's size in the worst case and is one node per segment on a table without
 * parameters. The winning node's routes decide the method: if none takes it the answer is 405 with
 * `Allow`, never a fall-back to another (possibly weaker) route.
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
        let child = key === PARAM_KEY ? node.param : node.children.get(key)
        if (!child) {
          child = newNode<R>()
          if (key === PARAM_KEY) node.param = child
          else node.children.set(key, child)
        }
        node = child
      }
      if (route.exact) node.here.splice(node.exactCount++, 0, route)
      else {
        node.open.push(route)
        node.here.push(route)
      }
    }
    // Only literal segments can be aliased: a parameter takes any segment, and its key is no word.
    this.aliases = new SegmentAliases(
      routes.flatMap((route) => route.prefixKeys.filter((key) => key !== PARAM_KEY)),
    )
  }

  /**
   * The route for a request, or a GatewayError: 400 for a segment that aliases a route segment
   * under another case folding or an escaped escape the route does not allow, 404 (also for any
   * path under one of the gateway's own segments, whatever routes a table holds), or 405 with
   * `Allow`. `host` is lowercase, with a port if the request named one.
   */
  match(method: string, host: string, path: CanonicalPath): R {
    refuseReservedPath(path)
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

/**
 * The routes of the most specific matching node (see RouteTable): literal child, then parameter
 * child, then this node's own prefix routes.
 */
function deepest<R>(node: TrieNode<R>, keys: readonly string[], depth = 0): R[] | undefined {
  if (depth === keys.length) return node.here.length > 0 ? node.here : undefined
  const literal = node.children.get(keys[depth] as string)
  const viaLiteral = literal && deepest(literal, keys, depth + 1)
  if (viaLiteral) return viaLiteral
  const viaParam = node.param && deepest(node.param, keys, depth + 1)
  if (viaParam) return viaParam
  return node.open.length > 0 ? node.open : undefined
}

function safeMethod(method: string): string {
  return /^[A-Z]{1,16}$/.test(method) ? method : 'this method'
}
