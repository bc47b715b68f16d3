/**
 * Which methods a route takes. Without `methods`, a route takes the methods of plain HTTP APIs;
 * anything else a runtime will parse (WebDAV's MOVE, COPY, PROPFIND, LOCK; caches' PURGE; made-up
 * tokens) is refused with 405 rather than forwarded under the route's base rule: an upstream may
 * give them meaning (a WebDAV handler, a cache purge) that the route's policy never considered.
 */
export const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/**
 * RFC 9110 §9.1: `method = token`, `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`. Methods are case-sensitive; configured ones
 * must be uppercase, as every registered method is (a lowercase `patch` is not `PATCH`, and Fetch
 * uppercases only DELETE, GET, HEAD, OPTIONS, POST, PUT).
 */
export const METHOD_TOKEN = /^[A-Z0-9!#$%&'*+\-.^_`|~]{1,32}$/

const DEFAULT_SET: ReadonlySet<string> = new Set(DEFAULT_METHODS)

/** Listing GET also allows HEAD (RFC 9110 §9.3.2: HEAD is GET without the content). */
export function allowsMethod(methods: readonly string[] | undefined, method: string): boolean {
  if (!methods) return DEFAULT_SET.has(method)
  return methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))
}

/** The `Allow` list (RFC 9110 §10.2.1) of routes that share a prefix, HEAD added where GET is. */
export function allowedMethods(routes: readonly { methods?: readonly string[] }[]): string[] {
  const allowed = new Set<string>()
  for (const route of routes) {
    for (const method of route.methods ?? DEFAULT_METHODS) {
      allowed.add(method)
      if (method === 'GET') allowed.add('HEAD')
    }
  }
  return [...allowed]
}
