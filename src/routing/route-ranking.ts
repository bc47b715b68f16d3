import { PARAM_KEY } from './route-pattern'
import type { RoutableRoute } from './route-table'

/**
 * The route order of route-table.ts spelled out by brute force, one route at a time: how a route
 * matches a path, segment by segment, and which of two matching routes is more specific. The table
 * never uses this on the request path (it walks its trie); explain uses it to say why a route beat
 * the others, and the property tests use it as the reference the trie must agree with.
 */

/** How each segment of a path was matched: by a literal, by a parameter, or as "below" a prefix. */
export type SegmentMatch = 'literal' | 'param' | 'below'

const RANK: Record<SegmentMatch, number> = { literal: 2, param: 1, below: 0 }

/** The per-segment match of `route` on the path's keys, or undefined when it does not match. */
export function matchSegments(
  route: Pick<RoutableRoute, 'prefixKeys' | 'exact'>,
  keys: readonly string[],
): SegmentMatch[] | undefined {
  const pattern = route.prefixKeys
  if (keys.length < pattern.length) return undefined
  if (route.exact && keys.length !== pattern.length) return undefined
  const out: SegmentMatch[] = []
  for (let i = 0; i < keys.length; i++) {
    const key = pattern[i]
    if (key === undefined) out.push('below')
    else if (key === PARAM_KEY) out.push('param')
    else if (key === keys[i]) out.push('literal')
    else return undefined
  }
  return out
}

/**
 * > 0 when `a` is more specific than `b`, < 0 when less, 0 when equal; `depth` is the first
 * segment where they differ (undefined when equal). Ties at equal segments go to the exact route.
 */
export function compareMatches(
  a: { segments: readonly SegmentMatch[]; exact?: boolean },
  b: { segments: readonly SegmentMatch[]; exact?: boolean },
): { order: number; depth?: number } {
  for (let i = 0; i < a.segments.length; i++) {
    const diff = RANK[a.segments[i] as SegmentMatch] - RANK[b.segments[i] as SegmentMatch]
    if (diff !== 0) return { order: diff, depth: i }
  }
  return { order: 0 }
}

export interface RankedRoute<R> {
  route: R
  segments: SegmentMatch[]
}

/**
 * Every route matching `keys`, most specific first; among equally specific ones (the routes of one
 * trie node) exact routes before prefix routes, then configured order, as the trie lists them.
 */
export function rankRoutes<R extends RoutableRoute>(
  routes: readonly R[],
  keys: readonly string[],
): RankedRoute<R>[] {
  const matching: (RankedRoute<R> & { at: number })[] = []
  routes.forEach((route, at) => {
    const segments = matchSegments(route, keys)
    if (segments) matching.push({ route, segments, at })
  })
  matching.sort((a, b) => {
    const { order } = compareMatches(b, a)
    if (order !== 0) return order
    if (Boolean(a.route.exact) !== Boolean(b.route.exact)) return a.route.exact ? -1 : 1
    return a.at - b.at
  })
  return matching.map(({ route, segments }) => ({ route, segments }))
}

/** One sentence on why `winner` beat `loser` (both matching the same path). */
export function whyBeats(winner: readonly SegmentMatch[], loser: readonly SegmentMatch[]): string {
  const { depth } = compareMatches({ segments: winner }, { segments: loser })
  if (depth === undefined) return 'same pattern: an exact route before a prefix, then configured order'
  const what = { literal: 'a literal segment', param: 'a parameter', below: 'nothing (below its prefix)' }
  return `at segment ${depth + 1} it has ${what[winner[depth] as SegmentMatch]}, the other ${what[loser[depth] as SegmentMatch]}`
}
