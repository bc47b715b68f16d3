/**
 * The run's target lines: PASS or MISS each, and for a MISS what holds it (`heldBy`).
 *
 * A scenario's MISS is held by its largest own-work stage: of its profile (stages.ts, scaled to the
 * measured CPU per request), the stage with the most µs among those the bare pass-through Worker
 * does not have. The bare Worker only receives, fetches and returns, so `forward` and `runtime` are
 * the stages it pays too; they cannot hold a MISS, because the bench cannot split them by cause:
 * they carry the bare Worker's own costs, garbage collection, and (in the scaled table) most of the
 * KV/D1 simulators' CPU, which the profile cannot see and the scaling spreads in proportion. Their
 * excess over the bare Worker's whole CPU per request is printed beside the stage as context. The
 * line also says how much CPU per request the target leaves (bare CPU ÷ target, what a dedicated
 * core would need) and how far the scenario is from it. The bundle's MISS is held by its largest
 * parts.
 */
import type { BundlePart } from './build'
import { kib, type ScenarioResult, type StageReport, type TargetResult } from './report'
import type { PairedComparison } from './schedule'
import type { SoakResult } from './soak'
import { STAGES, type Stage } from './stages'
import type { StormResult } from './storm'
import { stormTargets } from './storm-report'

/** The bundle limit, gzipped, with passkeys, TOTP, email and MCP included. */
export const BUNDLE_LIMIT_KIB = 185

/** Stages the bare pass-through Worker pays too: context, never the stage holding a MISS. */
const SHARED_WITH_BARE: readonly Stage[] = ['forward', 'runtime']

export interface TargetInputs {
  results: readonly ScenarioResult[]
  paired: readonly PairedComparison[]
  stages: readonly StageReport[]
  bundle: { gzipBytes: number; composition: readonly BundlePart[] }
  soak?: SoakResult
  storm?: StormResult
}

/**
 * The largest own-work stage of a profile (see the module comment), and by how much `forward` +
 * `runtime` exceed the bare Worker's whole CPU per request.
 */
export function holdingStage(
  row: StageReport,
  bareCpuUs: number,
): { stage: Stage; us: number; sharedBeyondBareUs: number } {
  const own = STAGES.filter((stage) => !SHARED_WITH_BARE.includes(stage))
  const stage = own.reduce((best, candidate) => (row.scaled[candidate] > row.scaled[best] ? candidate : best))
  const shared = SHARED_WITH_BARE.reduce((sum, name) => sum + row.scaled[name], 0)
  return { stage, us: row.scaled[stage], sharedBeyondBareUs: shared - bareCpuUs }
}

function us(value: number): string {
  return `${Math.round(value)} µs`
}

/** What holds a scenario below its target, from its stage profile and the CPU it measured. */
export function scenarioHeldBy(
  result: ScenarioResult,
  target: number,
  stages: readonly StageReport[],
): string {
  const profile = stages.find((row) => row.scenario === result.id)
  // cpuRatio is the baseline's CPU per request over this one's (schedule.ts summarize).
  const bareCpuUs = result.cpuRatio * result.cpuUs
  if (!profile || !Number.isFinite(bareCpuUs)) return 'no stage profile in this run'
  const held = holdingStage(profile, bareCpuUs)
  const allowed = bareCpuUs / target
  const budget =
    result.cpuUs > allowed
      ? `${target.toFixed(2)}x bare by CPU allows ${us(allowed)} a request: ${us(result.cpuUs - allowed)} too many`
      : `by CPU it passes (${result.cpuRatio.toFixed(2)}x), so the req/s shortfall is the machine's share, not the code's`
  return (
    `${held.stage}: ${us(held.us)} of ${us(result.cpuUs)} a request (bare ${us(bareCpuUs)}; ` +
    `forward + runtime ${us(held.sharedBeyondBareUs)} beyond bare's whole CPU); ${budget}`
  )
}

/** The largest parts of the bundle, and how far over the limit it is. */
export function bundleHeldBy(gzipBytes: number, composition: readonly BundlePart[]): string {
  const largest = composition
    .slice(0, 3)
    .map((part) => `${part.name} ${kib(part.gzipBytes)}`)
    .join(', ')
  return `largest parts ${largest}; ${kib(gzipBytes - BUNDLE_LIMIT_KIB * 1024)} over`
}

/** Adds `heldBy` to a target that misses. */
function withHeldBy(target: TargetResult, heldBy: () => string): TargetResult {
  return target.pass ? target : { ...target, heldBy: heldBy() }
}

export function checkTargets(inputs: TargetInputs): TargetResult[] {
  const { results, paired, stages, bundle, soak, storm } = inputs
  const ran = results.filter((result) => !result.skipped && result.samples.length > 0)
  const byId = new Map(ran.map((result) => [result.id, result]))
  const atLeast = (description: string, value: number, target: number): TargetResult => ({
    description: `${description} >= ${target.toFixed(2)}`,
    value: value.toFixed(3),
    pass: value >= target,
  })
  const targets: TargetResult[] = ran
    .filter((result) => result.target !== undefined)
    .map((result) => {
      const target = result.target as number
      return withHeldBy(atLeast(`${result.label} vs bare`, result.ratio, target), () =>
        scenarioHeldBy(result, target, stages),
      )
    })
  const steady = byId.get('es256-steady')
  const naive = byId.get('naive-hono')
  if (steady && naive)
    targets.push(
      withHeldBy(
        {
          description: 'ES256 steady above the naive Hono peer',
          value: `${steady.ratio.toFixed(2)} vs ${naive.ratio.toFixed(2)}`,
          pass: steady.ratio > naive.ratio,
        },
        () => scenarioHeldBy(steady, naive.ratio, stages),
      ),
    )
  for (const pair of paired)
    targets.push(
      withHeldBy(
        atLeast(`${pair.description} (head to head)`, pair.ratio, 0.95),
        () =>
          `the one difference from the reference gateway (not profiled: npx tsx bench/profile.ts ${pair.id}); ` +
          `${pair.cpuRatio.toFixed(2)}x by CPU`,
      ),
    )
  targets.push(
    withHeldBy(
      {
        description: `bundle <= ${BUNDLE_LIMIT_KIB} KiB gzipped`,
        value: kib(bundle.gzipBytes),
        pass: bundle.gzipBytes <= BUNDLE_LIMIT_KIB * 1024,
      },
      () => bundleHeldBy(bundle.gzipBytes, bundle.composition),
    ),
  )
  if (soak && !soak.skipped) {
    targets.push(
      withHeldBy(
        {
          description: 'soak: 0 unexpected statuses (only 200/401/403), 0 socket errors',
          value: `${soak.unexpected} unexpected, ${soak.socketErrors} socket errors`,
          pass: soak.unexpected === 0 && soak.socketErrors === 0,
        },
        () => `statuses ${JSON.stringify(soak.statuses)}`,
      ),
      withHeldBy(
        {
          description: 'soak: isolate heap flat from the 10th second to the last',
          value: `${(soak.heapStartBytes / 1048576).toFixed(1)} -> ${(soak.heapEndBytes / 1048576).toFixed(1)} MiB`,
          pass: soak.memoryFlat,
        },
        () => 'a cache or map that grows: compare heap snapshots (bench/lib/soak.ts)',
      ),
    )
  }
  if (storm)
    targets.push(
      ...stormTargets(storm.withLayer).map((target) =>
        withHeldBy(target, () => `saturated: ${storm.withLayer.saturated}`),
      ),
    )
  return targets
}
