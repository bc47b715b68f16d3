import { GatewayError } from '../errors/gateway-error'
import type { CanonicalPath } from './canonical-path'
import { foldVariants } from './case-folds'

/**
 * The first path segments the gateway serves itself (CONTRACT "Gateway endpoints"): one list for
 * the Worker entry, which sends them to the gateway's own endpoints, for config validation, which
 * refuses a route under one, and for the route table, which never lets a request under one reach a
 * route (a catch-all `/` or a `/{tenant}/...` template would otherwise take `/ADMIN/users`).
 *
 * The endpoints answer the contract's lowercase spelling only. Routes match case-insensitively, so
 * ownership is decided the router's way: `/ADMIN/users`, `/%61dmin/users` and fullwidth `ＡＤＭＩＮ`
 * belong to the gateway as much as `/admin/users` does, and are answered 404, never forwarded.
 * Serving them instead would widen every endpoint to spellings no client needs, while checks that
 * compare paths exactly (cookie paths, `return_to`, metadata URLs) would not follow.
 */
export const RESERVED_SEGMENTS: readonly string[] = ['admin', 'auth', '.well-known', 'healthz']

const RESERVED: ReadonlySet<string> = new Set(RESERVED_SEGMENTS)
const RESERVED_LENGTHS: ReadonlySet<number> = new Set(RESERVED_SEGMENTS.map((segment) => segment.length))
const NOT_ASCII = /[^ -~]/

/**
 * The reserved segment that a route segment's match key (or, for a request, its decoded text)
 * stands for, under the gateway's key or any case folding an upstream uses (case-folds.ts):
 * `admin`, `ADMIN` and `adm` + U+0131 all give `admin`.
 */
export function reservedSegmentFor(key: string, decoded?: string): string | undefined {
  if (RESERVED.has(key)) return key
  const text = decoded ?? key
  if (!NOT_ASCII.test(text)) return undefined // ASCII folds agree with the key under every semantics
  for (const variant of foldVariants(text)) if (RESERVED.has(variant)) return variant
  return undefined
}

/** Why config refuses a route path (its match keys as parsed), or undefined when it may stand. */
export function reservedRouteProblem(path: string, keys: readonly string[]): string | undefined {
  const reserved = keys[0] === undefined ? undefined : reservedSegmentFor(keys[0])
  if (reserved === undefined) return undefined
  const all = RESERVED_SEGMENTS.map((segment) => `/${segment}`).join(', ')
  return `"${path}" lies under /${reserved}, which the gateway serves itself (${all} are reserved, in any letter case); put the route under another prefix, such as /api${path}`
}

/**
 * The entry's choice of door: whether the raw URL's first segment spells a reserved segment in
 * ASCII case-insensitively, as route matching reads it. Either door ends at the same refusal
 * (`refuseReservedPath`) for spellings the endpoints do not serve; percent-encoded and Unicode
 * spellings are found there, on the canonical path.
 */
export function startsWithReservedSegment(url: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0) return true
  let end = start + 1
  for (; end < url.length; end++) {
    const code = url.charCodeAt(end)
    if (code === 0x2f /* / */ || code === 0x3f /* ? */ || code === 0x23 /* # */) break
  }
  // Only a first segment of a reserved length can be one: most proxied paths stop here, before
  // any copy of the segment is made.
  if (!RESERVED_LENGTHS.has(end - start - 1)) return false
  const segment = url.slice(start + 1, end)
  return RESERVED.has(segment) || RESERVED.has(segment.toLowerCase())
}

/**
 * Throws unless the path lies outside every reserved segment: 404 `not_found` when its first key is
 * one (no route can be there), 400 `invalid_path` when only another case folding reads it as one
 * (as SegmentAliases answers for route segments).
 */
export function refuseReservedPath(path: CanonicalPath): void {
  const key = path.keys[0]
  if (key === undefined) return
  if (RESERVED.has(key))
    throw new GatewayError(
      'not_found',
      `No route matches this path: /${key} is the gateway's own (its endpoints answer the lowercase spelling only).`,
    )
  const decoded = path.unicode?.get(0)
  if (decoded !== undefined && reservedSegmentFor(key, decoded) !== undefined)
    throw new GatewayError(
      'invalid_path',
      "The request path was rejected: its first segment is a case or compatibility variant of one of the gateway's own segments.",
    )
}
