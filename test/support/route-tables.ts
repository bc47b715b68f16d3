/** Route tables built from bare paths, and what a request gets from one: for the routing tests. */
import { GatewayError } from '../../src/errors/gateway-error'
import { canonicalizePath } from '../../src/routing/canonical-path'
import { parseRoutePath } from '../../src/routing/route-pattern'
import { type RoutableRoute, RouteTable } from '../../src/routing/route-table'

export interface TestRoute extends RoutableRoute {
  path: string
  match?: 'exact' | 'prefix'
}

export function testRoutes(routes: readonly (Partial<TestRoute> & { path: string })[]): TestRoute[] {
  return routes.map((route) => {
    const parsed = parseRoutePath(route.path, route.match)
    if (!parsed.ok) throw new Error(`${route.path}: ${parsed.problem}`)
    return { ...route, prefixKeys: parsed.pattern.keys, exact: parsed.pattern.exact }
  })
}

export function tableOf(routes: readonly (Partial<TestRoute> & { path: string })[]): RouteTable<TestRoute> {
  return new RouteTable(testRoutes(routes))
}

/** The matched route's path, or the error code (and Allow, for a 405). */
export function outcome(
  table: RouteTable<TestRoute>,
  raw: string,
  method = 'GET',
  host = 'gateway.test',
): string {
  try {
    return table.match(method, host, canonicalizePath(raw)).path
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error
    return error.allow ? `${error.code} [${error.allow.join(', ')}]` : error.code
  }
}
