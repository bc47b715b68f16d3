/**
 * Micro benchmark of route matching alone (canonicalize + match), in Node: the full `npm run bench`
 * measures the Worker end to end; this isolates the trie so a change to it shows up without noise
 * from workerd, the network or the machine's other load. `npx tsx bench/micro/route-match.ts`.
 */

import { readWorkerVars } from '../../scripts/lib/wrangler-config'
import { parseConfig } from '../../src/config/load'
import type { Env } from '../../src/env'
import { canonicalizePath } from '../../src/routing/canonical-path'
import { benchSettings, ROUTE_TABLE_SIZE, routeTable } from '../lib/gateway-setup'

const vars = readWorkerVars('wrangler.toml')
const settings = benchSettings(vars.SETTINGS, {
  issuer: 'http://127.0.0.1:9999',
  audience: 'bench',
  upstreamOrigin: 'http://127.0.0.1:9999',
})
const env = {
  ...vars,
  SETTINGS: settings,
  UPSTREAM_URL: 'http://127.0.0.1:8788',
  ISSUER: 'http://127.0.0.1:8787',
} as unknown as Env

function table(routes: unknown[]) {
  const result = parseConfig({ ...env, ROUTES: routes } as Env)
  if (!result.ok) throw new Error(result.problems.join('\n'))
  return result.config.routeTable
}

/** `/svc-N/v1` padded like the bench, or the same count of templated routes when `templated`. */
function templatedTable(size: number): unknown[] {
  const routes = routeTable(vars.ROUTES as unknown[])
  for (let i = 0; routes.length < size; i++)
    routes.push({ path: `/svc-${i}/v1/items/{item_id}/{rest*}`, upstream: 'UPSTREAM_URL' })
  return routes
}

/** The best of five rounds (the machine is shared: the minimum is the least disturbed). */
function measure(label: string, tableOf: ReturnType<typeof table>, paths: string[]): void {
  const canonical = paths.map((path) => canonicalizePath(path))
  const rounds = 300_000
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < 6; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < rounds; i++)
      tableOf.match('GET', '127.0.0.1:8787', canonical[i % canonical.length] as never)
    const ns = Number(process.hrtime.bigint() - start) / rounds
    if (round > 0) best = Math.min(best, ns) // round 0 warms up
  }
  console.log(`${label.padEnd(48)} ${best.toFixed(0).padStart(6)} ns/match (match only, best of 5)`)
}

const paths = ['/api/bench/items', '/api/admin/users/7', '/api/public/x', '/app/a/b']
measure('default table (wrangler.toml + bench routes)', table(routeTable(vars.ROUTES as unknown[])), paths)
measure(
  `${ROUTE_TABLE_SIZE} routes (bench padding)`,
  table(routeTable(vars.ROUTES as unknown[], ROUTE_TABLE_SIZE)),
  paths,
)
if (process.argv.includes('--templated'))
  measure(`${ROUTE_TABLE_SIZE} templated routes`, table(templatedTable(ROUTE_TABLE_SIZE)), [
    ...paths,
    '/svc-500/v1/items/42/owner',
  ])
