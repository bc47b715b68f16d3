import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_DIR } from './paths'
import type { ScenarioKind } from './report'

/** What every request of a POST scenario shares; its requests file adds one varying header. */
export interface PostShape {
  headers: Readonly<Record<string, string>>
  body: string
}

export interface Scenario {
  id: string
  label: string
  kind: ScenarioKind
  url: string
  /** One header line per request, taken round-robin (see bench/wrk/requests.lua). */
  requestsFile: string
  /** Sent as a POST with these headers and this body; a GET without. */
  post?: PostShape
  /**
   * The bare Worker receiving the same requests, when the default GET baseline is not (a POST):
   * run right before and after this scenario instead of it, and its ratio divides by this one.
   */
  baseline?: Scenario
  expectStatus: 200 | 401
  /** Whose CPU time the scenario costs: the Workers' process, HAProxy's, or none measured. */
  server: 'workerd' | 'haproxy' | 'none'
  /** Every request must carry a value never sent before (cold tokens): runs continue the file. */
  unique?: boolean
  /** Tokens must all have been seen once before measuring (steady state). */
  steadyTokens?: number
  /** Measured in the first round only (harness overhead, not a target). */
  firstRoundOnly?: boolean
  /** The target for the ratio to the baseline. */
  target?: number
  skipped?: string
}

export interface RequestFiles {
  none: string
  steady: string
  external: string
  apiKey: string
  session: string
  badSignature: string
  cold: string
  /** Steady ES256 tokens whose `aud` is the MCP route's resource (RFC 8707). */
  mcp: string
}

export interface ScenarioTargets {
  /** Origin of a Worker service by name. */
  worker(
    name: 'hello' | 'storage-probe' | 'bare' | 'naive' | 'gw' | 'gw-routes' | 'gw-denylist' | 'gw-reference',
  ): string
  upstream: { kind: string; origin: string }
  haproxyOrigin?: string
}

export const ITEM_PATH = '/api/bench/items?id=42'
const STEADY_TOKENS = 1000
/** The bench's MCP route (gateway-setup.ts); its resource is ISSUER + this path. */
export const MCP_PATH = '/bench/mcp'
/** The bench's route with `identity = "assertion"` (gateway-setup.ts). */
export const ASSERTION_PATH = '/bench/assertion'
/**
 * Whether the benchmarked project knows a route's `identity` (issue 25). An older checkout benched
 * with BENCH_PROJECT_DIR would refuse the whole configuration for the unknown field (its route
 * schema is strict), so there the route is left out and its scenario skipped.
 */
export const IDENTITY_MODE_SUPPORTED = /\bidentity: z\./.test(
  readFileSync(join(PROJECT_DIR, 'src/config/schema.ts'), 'utf8'),
)

const ECHO_TEXT =
  'The quick brown fox jumps over the lazy dog while the gateway reads this JSON-RPC message, ' +
  'checks it against the route rules and forwards the same bytes to the MCP server behind it. ' +
  'A tools/call of a few hundred bytes, as a client sends for a small tool: no more, no less.'

/**
 * A `tools/call` as an MCP client sends it over Streamable HTTP (a few hundred bytes), without the
 * `Mcp-Method`/`Mcp-Name` headers (the SDK 1.32 sends neither), and with them.
 */
const MCP_CALL: PostShape = {
  headers: {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': '2025-11-25',
  },
  body: JSON.stringify({
    jsonrpc: '2.0',
    id: 42,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: ECHO_TEXT } },
  }),
}
const MCP_CALL_WITH_HEADERS: PostShape = {
  ...MCP_CALL,
  headers: { ...MCP_CALL.headers, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'echo' },
}

export function baselineScenario(targets: ScenarioTargets, files: RequestFiles): Scenario {
  return {
    id: 'bare',
    label: 'bare pass-through Worker (baseline)',
    kind: 'baseline',
    url: targets.worker('bare') + ITEM_PATH,
    requestsFile: files.none,
    expectStatus: 200,
    server: 'workerd',
  }
}

/** The bare Worker receiving the MCP scenarios' POST (no token, as the GET baseline gets none). */
function mcpBaselineScenario(targets: ScenarioTargets, files: RequestFiles): Scenario {
  return {
    ...baselineScenario(targets, files),
    id: 'bare-mcp',
    label: 'bare pass-through Worker, MCP POST (baseline)',
    url: targets.worker('bare') + MCP_PATH,
    post: MCP_CALL,
  }
}

/** Ids BENCH_ONLY may name although they always run (the baselines). */
export const BASELINE_IDS: readonly string[] = ['bare', 'bare-mcp']

/** ES256 steady on a default gateway that serves nothing else (see `gw-reference`). */
export function referenceScenario(targets: ScenarioTargets, files: RequestFiles): Scenario {
  return {
    id: 'reference',
    label: 'gateway: ES256 steady, reference instance',
    kind: 'gateway',
    server: 'workerd',
    url: targets.worker('gw-reference') + ITEM_PATH,
    requestsFile: files.steady,
    steadyTokens: STEADY_TOKENS,
    expectStatus: 200,
  }
}

/**
 * Every scenario of the issue, in the order each round runs them: cold after the others that use
 * the gateway's audience (it floods that audience's token cache), then the MCP ones (their tokens
 * have the resource's cache), which share their own POST baseline.
 */
export function defineScenarios(targets: ScenarioTargets, files: RequestFiles): Scenario[] {
  const gw = (path = ITEM_PATH) => targets.worker('gw') + path
  const gateway = { kind: 'gateway', server: 'workerd' } as const
  const steady = { requestsFile: files.steady, steadyTokens: STEADY_TOKENS, expectStatus: 200 } as const
  const mcp = {
    ...gateway,
    url: gw(MCP_PATH),
    requestsFile: files.mcp,
    steadyTokens: STEADY_TOKENS,
    expectStatus: 200,
    baseline: mcpBaselineScenario(targets, files),
  } as const
  return [
    {
      id: 'hello',
      label: 'harness: hello-world Worker',
      kind: 'overhead',
      server: 'workerd',
      url: targets.worker('hello') + ITEM_PATH,
      requestsFile: files.none,
      expectStatus: 200,
      firstRoundOnly: true,
    },
    {
      id: 'kv-read',
      label: 'harness: hello + 1 simulated KV read',
      kind: 'overhead',
      server: 'workerd',
      url: `${targets.worker('storage-probe')}/kv`,
      requestsFile: files.none,
      expectStatus: 200,
      firstRoundOnly: true,
    },
    {
      id: 'd1-query',
      label: 'harness: hello + 1 simulated D1 query',
      kind: 'overhead',
      server: 'workerd',
      url: `${targets.worker('storage-probe')}/d1`,
      requestsFile: files.none,
      expectStatus: 200,
      firstRoundOnly: true,
    },
    {
      id: 'upstream-direct',
      label: `harness: ${targets.upstream.kind} upstream, no Worker`,
      kind: 'overhead',
      server: 'none',
      url: targets.upstream.origin + ITEM_PATH,
      requestsFile: files.none,
      expectStatus: 200,
      firstRoundOnly: true,
    },
    {
      ...gateway,
      id: 'public',
      target: 0.92,
      label: 'gateway: public route',
      url: gw('/api/public/items?id=42'),
      requestsFile: files.none,
      expectStatus: 200,
    },
    {
      ...gateway,
      ...steady,
      id: 'es256-steady',
      target: 0.85,
      label: 'gateway: ES256 token, steady (1,000 seen)',
      url: gw(),
    },
    {
      ...gateway,
      ...steady,
      id: 'es256-steady-assertion',
      target: 0.85,
      label: 'gateway: ES256 steady with identity=assertion',
      url: gw(`${ASSERTION_PATH}/items?id=42`),
      skipped: IDENTITY_MODE_SUPPORTED
        ? undefined
        : 'the benchmarked project has no route `identity` setting',
    },
    {
      ...gateway,
      id: 'session',
      target: 0.85,
      label: 'gateway: browser session cookie (KV record)',
      url: gw('/app/bench/items?id=42'),
      requestsFile: files.session,
      expectStatus: 200,
    },
    {
      ...gateway,
      id: 'api-key',
      target: 0.85,
      label: 'gateway: API key',
      url: gw(),
      requestsFile: files.apiKey,
      expectStatus: 200,
    },
    {
      ...gateway,
      ...steady,
      id: 'external-jwt',
      target: 0.8,
      label: 'gateway: external IdP RS256 (JWKS cached)',
      url: gw('/bench/external/items?id=42'),
      requestsFile: files.external,
    },
    {
      ...gateway,
      ...steady,
      id: 'strict',
      label: 'gateway: revocation "strict" (D1 sim)',
      url: gw('/bench/strict/items?id=42'),
    },
    {
      ...gateway,
      id: 'bad-signature',
      target: 1.2,
      label: 'gateway: invalid signature (401)',
      url: gw(),
      requestsFile: files.badSignature,
      expectStatus: 401,
    },
    {
      ...gateway,
      id: 'missing-token',
      target: 1.5,
      label: 'gateway: no credentials (401)',
      url: gw(),
      requestsFile: files.none,
      expectStatus: 401,
    },
    {
      ...gateway,
      ...steady,
      id: 'routes-1000',
      // Compared with es256-steady head to head (run.ts); here once, against the baseline.
      firstRoundOnly: true,
      label: 'gateway: 1,000-route table, ES256 steady',
      url: targets.worker('gw-routes') + ITEM_PATH,
    },
    {
      ...gateway,
      ...steady,
      id: 'denylist-100k',
      // Compared with es256-steady head to head (run.ts); here once, against the baseline.
      firstRoundOnly: true,
      label: 'gateway: 100,000 revoked jtis, ES256 steady',
      url: targets.worker('gw-denylist') + ITEM_PATH,
    },
    {
      id: 'naive-hono',
      label: 'peer: naive Hono (hono/jwt ES256 + fetch)',
      kind: 'peer',
      server: 'workerd',
      url: targets.worker('naive') + ITEM_PATH,
      requestsFile: files.steady,
      expectStatus: 200,
    },
    {
      id: 'haproxy',
      label: 'peer: HAProxy jwt_verify ES256 + proxy',
      kind: 'peer',
      server: 'haproxy',
      url: targets.haproxyOrigin ? targets.haproxyOrigin + ITEM_PATH : '',
      requestsFile: files.steady,
      expectStatus: 200,
      skipped: targets.haproxyOrigin ? undefined : 'haproxy is not installed (apt-get install haproxy)',
    },
    {
      ...gateway,
      id: 'es256-cold',
      target: 0.5,
      label: 'gateway: ES256 token, cold (never seen)',
      url: gw(),
      requestsFile: files.cold,
      expectStatus: 200,
      unique: true,
    },
    {
      ...mcp,
      id: 'mcp-tools-call',
      label: 'gateway: MCP tools/call, ES256 steady',
      post: MCP_CALL,
    },
    {
      ...mcp,
      id: 'mcp-tools-call-headers',
      // The same call plus two headers to compare: a small difference, not worth a second round.
      firstRoundOnly: true,
      label: 'gateway: MCP tools/call + Mcp-Method/Name',
      post: MCP_CALL_WITH_HEADERS,
    },
  ]
}

export interface ScheduleStep {
  scenario: Scenario
  round: number
}

/**
 * Interleaves the baseline between every scenario so each ratio uses a baseline measured next to
 * it: a scenario with a baseline of its own has that one on both sides.
 */
export function interleave(
  baseline: Scenario,
  scenarios: readonly Scenario[],
  rounds: number,
): ScheduleStep[] {
  const steps: ScheduleStep[] = []
  let previous = baseline
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) {
      if (scenario.skipped || (scenario.firstRoundOnly && round > 1)) continue
      const own = scenario.baseline ?? baseline
      // Close the previous scenario's pair before switching to another baseline.
      if (own !== previous && steps.length > 0) steps.push({ scenario: previous, round })
      steps.push({ scenario: own, round }, { scenario, round })
      previous = own
    }
  }
  steps.push({ scenario: previous, round: rounds })
  return steps
}
