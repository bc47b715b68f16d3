import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { outcome, type TestRoute, tableOf, testRoutes } from '../../test/support/route-tables'
import { canonicalizePath } from './canonical-path'
import { allowedMethods, allowsMethod } from './methods'
import { rankRoutes } from './route-ranking'

describe('templated paths: parameters fill whole segments, literals win', () => {
  const table = tableOf([
    { path: '/items/{item_id}' },
    { path: '/items/{item_id}/owner', methods: ['GET'] },
    { path: '/items/mine', match: 'exact' },
    { path: '/files/{rest*}' },
    { path: '/users/me', match: 'exact' },
    { path: '/users/{user_id}/items' },
    { path: '/api/admin' },
    { path: '/api/{version}/public' },
    { path: '/api' },
  ])

  it.each([
    ['a parameter segment', '/items/42', '/items/{item_id}'],
    ['a literal over a parameter at the same depth', '/items/mine', '/items/mine'],
    ['a literal in any case', '/items/MINE', '/items/mine'],
    ['a deeper template', '/items/42/owner', '/items/{item_id}/owner'],
    ['a parameter that spells a literal of another depth', '/items/mine/owner', '/items/{item_id}/owner'],
    ['{rest*} at its own depth', '/files', '/files/{rest*}'],
    ['{rest*} below', '/files/a/b/c.txt', '/files/{rest*}'],
    [
      'the parameter route after an exact literal route fails deeper (backtracking)',
      '/users/me/items',
      '/users/{user_id}/items',
    ],
    ['a trailing slash at the same depth', '/items/42/', '/items/{item_id}'],
  ])('matches %s: %s → %s', (_name, path, route) => {
    expect(outcome(table, path)).toBe(route)
  })

  it('keeps a request in a literal prefix route rather than a weaker parameter route that spells it', () => {
    // /api/admin/public: "admin" is literal under /api/admin, a parameter under /api/{version}/public.
    expect(outcome(table, '/api/admin/public')).toBe('/api/admin')
    expect(outcome(table, '/api/v2/public')).toBe('/api/{version}/public')
  })

  it('matches a template without {rest*} at its own depth only (deeper paths fall to a prefix route)', () => {
    expect(outcome(table, '/api/v2/public/x')).toBe('/api')
    expect(outcome(table, '/items/42/owner/x')).toBe('not_found')
    expect(outcome(table, '/items')).toBe('not_found')
  })

  it('keeps prefix semantics for plain paths unless match = "exact"', () => {
    const prefix = tableOf([{ path: '/users/me' }, { path: '/users/{user_id}/items' }])
    expect(outcome(prefix, '/users/me/items')).toBe('/users/me')
    expect(outcome(table, '/users/me/x')).toBe('not_found')
    expect(outcome(table, '/users/me')).toBe('/users/me')
  })

  it('answers 405 with the methods of the winning route, never another route that takes the method', () => {
    expect(outcome(table, '/items/42/owner', 'DELETE')).toBe('method_not_allowed [GET, HEAD]')
  })

  it('refuses a case-folding alias of a literal segment even where a parameter would take it', () => {
    // "m\u0131ne" (dotless i) is "mine" to Java: it must not reach /items/{item_id} as something else.
    expect(outcome(table, '/items/m%C4%B1ne')).toBe('invalid_path')
    expect(outcome(table, '/items/caf%C3%A9')).toBe('/items/{item_id}')
  })
})

// Small alphabets so random tables and paths collide often.
const SEGMENTS = ['a', 'b', 'c', '{x}', '{y}']
const pathArb = (segments: readonly string[], max: number) =>
  fc
    .array(fc.constantFrom(...segments), { minLength: 0, maxLength: max })
    .map((parts) => `/${parts.join('/')}`)
const routeArb = fc.record({
  path: pathArb(SEGMENTS, 4),
  rest: fc.boolean(),
  methods: fc.option(fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }), { nil: undefined }),
})

function routesFrom(specs: { path: string; rest: boolean; methods?: string[] }[]): TestRoute[] {
  const seen = new Set<string>()
  const out: (Partial<TestRoute> & { path: string })[] = []
  for (const spec of specs) {
    const templated = spec.path.includes('{') || spec.rest
    // Parameter names must differ within one path; rename them by position.
    let n = 0
    let path = spec.path.replace(/\{[xy]\}/g, () => `{p${n++}}`)
    if (spec.rest) path = path === '/' ? '/{rest*}' : `${path}/{rest*}`
    if (templated && !path.includes('{')) continue
    const key = path.replace(/\{p\d+\}/g, '{}')
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ path, methods: spec.methods })
  }
  return testRoutes(out)
}

/** Brute force: rank every route, take the best group, pick the first that takes the method. */
function reference(routes: TestRoute[], raw: string, method: string): string {
  const keys = canonicalizePath(raw).keys
  const ranked = rankRoutes(routes, keys)
  const best = ranked[0]
  if (!best) return 'not_found'
  const group = ranked.filter((r) => r.segments.join() === best.segments.join()).map((r) => r.route)
  const route = group.find((candidate) => allowsMethod(candidate.methods, method))
  return route ? route.path : `method_not_allowed [${allowedMethods(group).join(', ')}]`
}

describe('the trie agrees with a brute-force reference matcher (property)', () => {
  it('chooses the same route, 404 or 405 for random tables with parameters and random paths', () => {
    fc.assert(
      fc.property(
        fc.array(routeArb, { minLength: 1, maxLength: 12 }),
        pathArb(['a', 'b', 'c', 'd'], 6),
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        (specs, path, method) => {
          const routes = routesFrom(specs)
          expect(outcome(tableOf(routes), path, method)).toBe(reference(routes, path, method))
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('prefers a literal segment over a parameter at every depth where both match', () => {
    fc.assert(
      fc.property(
        fc.array(routeArb, { minLength: 1, maxLength: 12 }),
        pathArb(['a', 'b', 'c'], 5),
        (specs, path) => {
          const routes = routesFrom(specs)
          const keys = canonicalizePath(path).keys
          const chosen = outcome(tableOf(routes), path)
          const ranked = rankRoutes(routes, keys)
          const winner = ranked.find((r) => r.route.path === chosen)
          if (!winner) {
            // No route won: a 404 only when no route matches, a 405 only when some do (and the
            // first property checks which); never another route or error.
            if (chosen === 'not_found') expect(ranked).toEqual([])
            else {
              expect(chosen).toMatch(/^method_not_allowed \[/)
              expect(ranked).not.toEqual([])
            }
            return
          }
          // At the first segment where another matching route differs, the winner has the literal
          // (against a parameter or "below"), or the parameter (against "below").
          const rank = { literal: 2, param: 1, below: 0 }
          for (const other of ranked) {
            const depth = other.segments.findIndex((s, i) => s !== winner.segments[i])
            if (depth < 0) continue
            const mine = winner.segments[depth] as keyof typeof rank
            const theirs = other.segments[depth] as keyof typeof rank
            expect(rank[mine]).toBeGreaterThan(rank[theirs])
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
