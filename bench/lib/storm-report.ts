/** What the storm's runs say: the contract's figures, one line per run, the targets, what saturated. */
import type { LegitOutcome, StormResult, StormRun } from './storm'

/** The contract's figures of one run (CONTRACT.md, "Capacity"). */
export function contractFigures(run: StormRun) {
  return {
    legit_login_success: run.logins.success,
    legit_refresh_success: run.refreshes.success,
    flood_rate: Math.round(run.floodRate * 10) / 10,
    legit_rate: Math.round(run.legitRate * 10) / 10,
  }
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

function describeLegit(name: string, legit: LegitOutcome): string {
  return (
    `${name} ${legit.succeeded}/${legit.attempts} (${percent(legit.success)}), ` +
    `p50 ${legit.p50Ms.toFixed(0)} ms, p95 ${legit.p95Ms.toFixed(0)} ms`
  )
}

/** One line per run, for the console and the README. */
export function describeStormRun(run: StormRun): string {
  const statuses = Object.entries(run.flood)
    .map(([status, n]) => `${status === '0' ? 'no answer' : status} × ${n}`)
    .join(', ')
  return (
    `layer ${run.layer}: flood ${run.floodRate.toFixed(0)}/s, legitimate ${run.legitRate.toFixed(1)}/s for ${run.seconds} s ` +
    `(after ${run.warmupSeconds.toFixed(1)} s of flood alone); ` +
    `${describeLegit('logins', run.logins)}; ${describeLegit('refreshes', run.refreshes)}; ` +
    `flood answers: ${statuses}; workerd ${run.workerdCores.toFixed(2)} of a core, ` +
    (Number.isNaN(run.d1.busyShare)
      ? 'D1 figures unavailable (no answer within 3 s), '
      : `D1 busy ${percent(run.d1.busyShare)} (longest wait ${run.d1.maxWaitMs.toFixed(0)} ms, ${run.d1.overloaded} overloaded), `) +
    `hello-world probe p95 ${run.probe.p95Ms.toFixed(0)} ms, harness ${run.harnessCores.toFixed(2)} of a core; saturated: ${run.saturated}`
  )
}

/** The target: ≥ 99% of legitimate logins and refreshes succeed during the flood, with the layer. */
export function stormTargets(withLayer: StormRun) {
  return [
    { name: 'logins', legit: withLayer.logins },
    { name: 'refreshes', legit: withLayer.refreshes },
  ].map(({ name, legit }) => ({
    description: `storm: legitimate ${name} succeed during a flood of ${Math.round(withLayer.floodRate / withLayer.legitRate)}x their rate, with the rate-limit layer >= 99%`,
    value: `${legit.succeeded}/${legit.attempts} = ${percent(legit.success)}`,
    pass: legit.success >= 0.99,
  }))
}

/** `storm` of bench/results/latest.json, in CONTRACT.md's shape. */
export function stormContract(result: StormResult) {
  return { ...contractFigures(result.withLayer), without_rate_limit: contractFigures(result.withoutLayer) }
}

/** What ran out, read from a run's measurements (bench/README.md, "Storm"). */
export function saturation(run: Omit<StormRun, 'saturated'>, askedFloodRate: number): string {
  const full: string[] = []
  if (run.probe.p95Ms > 200)
    full.push(
      `workerd's thread (PBKDF2 CPU): a hello-world request waited ${run.probe.p50Ms.toFixed(0)} ms (p50), ${run.probe.p95Ms.toFixed(0)} ms (p95)`,
    )
  if (run.d1.busyShare >= 0.85) full.push(`the D1 primary: busy ${percent(run.d1.busyShare)}`)
  else if (run.d1.overloaded > 0)
    full.push(
      `D1 overloaded ${run.d1.overloaded} times while busy only ${percent(run.d1.busyShare)}: statements arriving in bursts, not the primary's throughput`,
    )
  if (run.harnessCores >= 0.85 || run.floodRate < 0.95 * askedFloodRate)
    full.push(
      `the harness: ${run.harnessCores.toFixed(2)} of a core, flood ${run.floodRate.toFixed(0)}/s of ${askedFloodRate}/s`,
    )
  return full.length > 0 ? full.join('; ') : 'nothing'
}
