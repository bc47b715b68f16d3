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
  expectStatus: 200 | 401 | 429
  /** Whose CPU time the scenario costs: the Workers' process, HAProxy's, or none measured. */
  server: 'workerd' | 'haproxy' | 'none'
  /** Every request must carry a value never sent before (cold tokens): runs continue the file. */
  unique?: boolean
  /**
   * Writes `count` never-seen request lines for a unique scenario (schedule.ts asks once, before its
   * first run); without it the file was written whole at seeding (the cold API keys).
   */
  mintUnique?: (count: number) => string[]
  /** A unique scenario's requests per second at most, as a share of the baseline's (sizes the mint). */
  uniqueShare?: number
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
  /** Never-seen EdDSA tokens (the ring's second key), RS256 ones of the fake IdP, API keys. */
  coldEddsa: string
  coldExternal: string
  coldApiKey: string
  /** Steady ES256 tokens whose `aud` is the MCP route's resource (RFC 8707). */
  mcp: string
  /** Steady delegated tokens: the shape of an access token a code exchange gave the bench's client. */
  delegated: string
  /** `CF-Connecting-IP` of the one address whose `/auth/token` limit the rate-limited scenario fills. */
  rateLimited: string
}

/** Mints the never-seen credentials of the cold scenarios (environment.ts). */
export interface ColdMinters {
  es256(count: number): string[]
  eddsa(count: number): string[]
  external(count: number): string[]
}

export interface ScenarioTargets {
  /** Origin of a Worker service by name. */
  worker(
    name:
      | 'hello'
      | 'storage-probe'
      | 'bare'
      | 'naive'
      | 'gw'
      | 'gw-routes'
      | 'gw-denylist'
      | 'gw-reference'
      | 'gw-storm',
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
/**
 * A `POST /auth/token` from an address over its per-address limit (the `token` class, 100 per 10 s):
 * refused by the binding before the body is read. The body has no `grant_type`, so a request the
 * binding admits (about 10 a second, the limit's rate) is a cheap 400 without storage, not a
 * password derivation.
 */
export const TOKEN_OVER_LIMIT: PostShape = {
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: 'scope=read',
}
/** Binding calls of one `ratelimit-binding` request (bench/workers/storage-probe.ts makes as many). */
export const RATE_LIMIT_PROBE_CALLS = 20
/** The address of the rate-limited scenario: RFC 5737's TEST-NET-1, no other part of the run uses it. */
export const RATE_LIMITED_ADDRESS = '192.0.2.1'

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
export function defineScenarios(
  targets: ScenarioTargets,
  files: RequestFiles,
  cold?: ColdMinters,
): Scenario[] {
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
      id: 'ratelimit-binding',
      label: `harness: hello + ${RATE_LIMIT_PROBE_CALLS} rate-limit binding calls`,
      kind: 'overhead',
      server: 'workerd',
      url: `${targets.worker('storage-probe')}/ratelimit`,
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
      target: 0.9,
      label: 'gateway: public route',
      url: gw('/api/public/items?id=42'),
      requestsFile: files.none,
      expectStatus: 200,
    },
    {
      ...gateway,
      ...steady,
      id: 'es256-steady',
      target: 0.75,
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
      target: 0.75,
      label: 'gateway: browser session cookie (KV record)',
      url: gw('/app/bench/items?id=42'),
      requestsFile: files.session,
      expectStatus: 200,
    },
    {
      ...gateway,
      id: 'api-key',
      target: 0.75,
      label: 'gateway: API key',
      url: gw(),
      requestsFile: files.apiKey,
      expectStatus: 200,
    },
    {
      ...gateway,
      ...steady,
      id: 'delegated-steady',
      label: 'gateway: delegated token (code flow), steady',
      url: gw(),
      requestsFile: files.delegated,
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
      id: 'rate-limited',
      // The storm's gateway: the only one with the [[ratelimits]] bindings (environment.ts).
      label: 'gateway: /auth/token over its rate limit (429)',
      url: `${targets.worker('gw-storm')}/auth/token`,
      requestsFile: files.rateLimited,
      post: TOKEN_OVER_LIMIT,
      expectStatus: 429,
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
    // First sights: every request carries a credential the isolate has never seen (environment.ts
    // mints them; the subjects repeat, as a user's new token would).
    {
      ...gateway,
      id: 'es256-cold',
      target: 0.45,
      label: 'gateway: ES256 token, cold (never seen)',
      url: gw(),
      requestsFile: files.cold,
      expectStatus: 200,
      unique: true,
      mintUnique: cold?.es256,
    },
    {
      ...gateway,
      id: 'eddsa-cold',
      label: 'gateway: EdDSA token, cold (never seen)',
      url: gw(),
      requestsFile: files.coldEddsa,
      expectStatus: 200,
      unique: true,
      mintUnique: cold?.eddsa,
    },
    {
      ...gateway,
      id: 'external-cold',
      label: 'gateway: external IdP RS256, cold (JWKS cached)',
      url: gw('/bench/external/items?id=42'),
      requestsFile: files.coldExternal,
      expectStatus: 200,
      unique: true,
      mintUnique: cold?.external,
      // RSA-2048 signing in the harness costs ~1 ms a token: mint for half the baseline's rate.
      uniqueShare: 0.5,
    },
    {
      ...gateway,
      id: 'api-key-cold',
      target: 0.45,
      label: 'gateway: API key, cold (record in KV, not in the isolate)',
      url: gw(),
      requestsFile: files.coldApiKey,
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
