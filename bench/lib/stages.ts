/**
 * Per-stage CPU cost from a V8 CPU profile of the gateway's isolate: every sample is charged to the
 * innermost frame on its stack that belongs to a stage of the request path (by the src/ file the
 * bundle's source map names), so jose's ECDSA under `verifyAccessToken` counts as credential load
 * and SHA-256 under `assertNotRevoked` as the revocation check. Samples with no src/ frame at all
 * (HTTP parsing, garbage collection, workerd's own JS) are "runtime".
 *
 * Approximate: the bundle is minified and V8 inlines small functions, so a few samples land on a
 * neighbouring function; the profiler also slows the isolate down. Read µs per request as "where
 * the time goes", and the req/s ratios of the main table as the result.
 */
export const STAGES = [
  'canonical path',
  'route match',
  'rate limit',
  'credential load',
  // The credential's own work, split so that a first sight of a token or key shows what it costs
  // (a token seen before skips all of them but `caches` and `revocation read`).
  'decode',
  'header/claims checks',
  'key lookup',
  'subtle.verify',
  'principal build',
  'caches',
  'revocation read',
  'authorize',
  'mcp message',
  'assertion signed',
  'header rebuild',
  'forward',
  'response',
  'error response',
  'entry and glue',
  'runtime',
] as const
export type Stage = (typeof STAGES)[number]

// First match wins; a file no rule names (crypto helpers, storage wrappers, node_modules) is
// charged to the stage of its nearest caller that has one.
const RULES: readonly [RegExp, Stage][] = [
  [/^src\/routing\/canonical-path\.ts$/, 'canonical path'],
  [/^src\/routing\//, 'route match'],
  // The denylist's KV (or D1) read, the jti's SHA-256 and the isolate's answer cache.
  [/^src\/revocation\//, 'revocation read'],
  // limitRequest and the binding's call (the bench's binding module has no src/ frame of its own).
  [/^src\/rate-limit\//, 'rate limit'],
  [/^src\/authz\//, 'authorize'],
  // The JSON-RPC body read (bounded) and parsed, the duplicate-key scan, the Mcp-* header check and
  // the mcp_rules lookup (the rule's decision itself is `authorize`).
  [/^src\/mcp\/|^src\/proxy\/mcp\.ts$/, 'mcp message'],
  [/^src\/tokens\/compact-jws\.ts$/, 'decode'],
  [/^src\/tokens\/access-token-checks\.ts$/, 'header/claims checks'],
  // Our signing keys (the ring, the kid's key), an external issuer's JWKS, an API key's record.
  [/^src\/tokens\/(signing-keys|jwks-)|^src\/api-keys\/(cache|store)\.ts$/, 'key lookup'],
  [/^src\/tokens\/jws-signature\.ts$/, 'subtle.verify'],
  [/^src\/tokens\/access-token-principal\.ts$|^src\/authn\/claims-mapping\.ts$/, 'principal build'],
  [/^src\/tokens\/(verified-cache|assertion-cache)\.ts$/, 'caches'],
  [/^src\/tokens\/assertion\.ts$/, 'assertion signed'],
  [/^src\/proxy\/headers\.ts$|^src\/config\/header-names\.ts$/, 'header rebuild'],
  [/^src\/proxy\/forward\.ts$/, 'forward'],
  [/^src\/proxy\/response\.ts$/, 'response'],
  [/^src\/errors\//, 'error response'],
  [/^src\/(authn|api-keys|sessions)\/|^src\/tokens\/access-token/, 'credential load'],
  [/^src\/(index|context)\.ts$|^src\/config\/|^src\/proxy\/gateway\.ts$/, 'entry and glue'],
]

/**
 * Native frames (workerd's C++ APIs) by name, where the name decides the stage whoever calls it:
 * V8 inlines small functions such as `clientResponse` into their caller, so the Response copy
 * would otherwise be charged to the caller's file.
 */
const NATIVE_STAGES: ReadonlyMap<string, Stage> = new Map([
  ['Response', 'response'],
  ['fetch', 'forward'],
  // WebCrypto runs synchronously on the isolate's thread: its frames are the signature work itself.
  ['verify', 'subtle.verify'],
  ['sign', 'assertion signed'],
])

/**
 * jose's own modules, when a credential loader calls them (external issuers' tokens go through
 * jose's jwtVerify): the innermost jose file says which part of the verification it is doing. Under
 * any other stage (jose signing an assertion) the stage of the src/ caller stands.
 */
const JOSE_STAGES: readonly [RegExp, Stage][] = [
  [/\/jose\/.*\/(util\/(base64url|decode_)|lib\/(buffer_utils|validate))/, 'decode'],
  [/\/jose\/.*\/lib\/(jwt_claims_set|jws_verify)/, 'header/claims checks'],
  [/\/jose\/.*\/(lib\/(key|jws_algorithms|key_algorithm|asn1)|jwks\/)/, 'key lookup'],
]
const REFINED_BY_JOSE: ReadonlySet<Stage> = new Set(['credential load', 'key lookup'])

export function stageOfJose(file: string): Stage | undefined {
  for (const [pattern, stage] of JOSE_STAGES) if (pattern.test(file)) return stage
  return undefined
}

export function stageOfNative(
  name: string | undefined,
  innermostFile: string | undefined,
): Stage | undefined {
  if (name === undefined) return undefined
  const stage = NATIVE_STAGES.get(name)
  // A Response built by the error renderer is the error response's.
  if (stage === 'response' && innermostFile?.startsWith('src/errors/')) return 'error response'
  return stage
}

export function stageOfFile(file: string): Stage | undefined {
  for (const [pattern, stage] of RULES) if (pattern.test(file)) return stage
  return undefined
}

/** CPU µs per request by stage, plus the total the profile saw per request. */
export interface StageCosts {
  scenario: string
  requests: number
  /** Sampled busy time of the isolate's thread per request, µs (the profiler's own overhead included). */
  totalUs: number
  stages: Record<Stage, number>
}

/**
 * `stacks`: for each sample, the src/ files (and jose's) of its frames from leaf to root, and its
 * duration in µs; idle samples are left out by the caller.
 */
export function stageCosts(
  scenario: string,
  samples: Iterable<{ files: readonly string[]; native?: string; us: number }>,
  requests: number,
): StageCosts {
  const stages = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>
  let total = 0
  for (const sample of samples) {
    let stage: Stage = stageOfNative(sample.native, sample.files[0]) ?? 'runtime'
    if (stage === 'runtime') {
      let jose: Stage | undefined
      for (const file of sample.files) {
        if (file.startsWith('node_modules/')) {
          jose ??= stageOfJose(file)
          continue
        }
        const found = stageOfFile(file)
        if (found) {
          stage = jose !== undefined && REFINED_BY_JOSE.has(found) ? jose : found
          break
        }
      }
    }
    stages[stage] += sample.us
    total += sample.us
  }
  for (const stage of STAGES) stages[stage] /= Math.max(1, requests)
  return { scenario, requests, totalUs: total / Math.max(1, requests), stages }
}

/** One row per scenario, one column per stage that costs anything anywhere. */
export function formatStageTable(rows: readonly StageCosts[]): string {
  const used = STAGES.filter((stage) => rows.some((row) => row.stages[stage] >= 0.5))
  const header = ['scenario', ...used, 'total']
  const body = rows.map((row) => [
    row.scenario,
    ...used.map((stage) => row.stages[stage].toFixed(0)),
    row.totalUs.toFixed(0),
  ])
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((cells) => (cells[i] ?? '').length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`
  const rule = `|${widths.map((width, i) => `${'-'.repeat(width + 1)}${i === 0 ? '-' : ':'}`).join('|')}|`
  return [line(header), rule, ...body.map(line)].join('\n')
}
