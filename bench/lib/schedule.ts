/**
 * The measuring part of a run: one load run at a time against one scenario, the interleaved
 * schedule, per-scenario summaries, and head-to-head comparisons.
 */
import { basename } from 'node:path'
import type { BenchEnvironment } from './environment'
import { writeRequests } from './environment'
import type { LoadGenerator, LoadResult } from './load'
import { cpuSeconds } from './processes'
import type { RunSample, ScenarioResult } from './report'
import { interleave, type Scenario } from './scenarios'

export interface ScheduleOptions {
  rounds: number
  seconds: number
  warmupSeconds: number
  connections: number
  log(message: string): void
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length
}

interface Measured {
  result: LoadResult
  /** CPU µs per request of the process serving the scenario. */
  cpuUs: number
}

export class Runner {
  /** How far into each unique-request file the runs have got. */
  private readonly offsets = new Map<string, number>()

  constructor(
    private readonly load: LoadGenerator,
    private readonly env: BenchEnvironment,
    private readonly connections: number,
  ) {}

  offsetOf(file: string): number {
    return this.offsets.get(file) ?? 0
  }

  private pidOf(scenario: Scenario): number | undefined {
    if (scenario.server === 'workerd') return this.env.workerd.service.child.pid
    if (scenario.server === 'haproxy') return this.env.haproxy?.service.child.pid
    return undefined
  }

  async run(scenario: Scenario, seconds: number): Promise<Measured> {
    const offset = this.offsetOf(scenario.requestsFile)
    const pid = this.pidOf(scenario)
    const cpuBefore = cpuSeconds(pid)
    const result = await this.load.run({
      url: scenario.url,
      requestsFile: scenario.requestsFile,
      offset,
      seconds,
      connections: this.connections,
      post: scenario.post,
    })
    if (result.requests === 0)
      throw new Error(
        `${scenario.id}: no response in ${seconds} s; is the server stuck? See bench/.work/*.log`,
      )
    const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests
    // Requests in flight when a run stops were generated but not counted: skip a margin.
    if (scenario.unique)
      this.offsets.set(scenario.requestsFile, offset + result.requests + this.connections * 4)
    return { result, cpuUs }
  }
}

export interface Run {
  scenario: Scenario
  round: number
  measured: Measured
}

export async function runSchedule(env: BenchEnvironment, load: LoadGenerator, options: ScheduleOptions) {
  const { rounds, seconds, warmupSeconds, connections, log } = options
  const runner = new Runner(load, env, connections)
  const steps = interleave(env.baseline, env.scenarios, rounds)
  const runs: Run[] = []
  const notes = new Map<string, string[]>()
  const note = (id: string, text: string) => notes.set(id, [...(notes.get(id) ?? []), text])
  let coldTokens = 0
  /** Lines minted per unique scenario's file. */
  const minted = new Map<string, number>()
  const warmBaselines = new Set<Scenario>()
  log(
    `running ${steps.length} load runs: ${rounds} round(s), ${seconds} s each (+${warmupSeconds} s warm-up), ` +
      `${connections} connections, ${load.version}`,
  )
  for (const [index, { scenario, round }] of steps.entries()) {
    if (scenario.mintUnique && !minted.has(scenario.requestsFile)) {
      // Enough never-seen tokens for every cold request of every round and the stage profile (no
      // run is faster than bare, or than its uniqueShare of it).
      const fastest = Math.max(
        ...runs.filter((run) => run.scenario === env.baseline).map((r) => r.measured.result.rps),
      )
      const share = scenario.uniqueShare ?? 1
      const count = Math.min(
        2_000_000,
        Math.ceil(fastest * share * (seconds + warmupSeconds) * (rounds + 1) * 1.3) + 5_000,
      )
      const started = performance.now()
      await writeRequests(basename(scenario.requestsFile, '.txt'), scenario.mintUnique(count))
      minted.set(scenario.requestsFile, count)
      coldTokens += count
      log(`  minted ${count} for ${scenario.id} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
    const isBaseline = scenario.kind === 'baseline'
    if (!isBaseline || !warmBaselines.has(scenario)) {
      // Steady state: every token verified once before the clock starts.
      let warmed = (await runner.run(scenario, warmupSeconds)).result.requests
      for (let extra = 0; extra < 10 && warmed < (scenario.steadyTokens ?? 0); extra++)
        warmed += (await runner.run(scenario, warmupSeconds)).result.requests
      if (warmed < (scenario.steadyTokens ?? 0))
        note(scenario.id, `round ${round}: only ${warmed} warm-up requests, not every token was seen first`)
      if (isBaseline) warmBaselines.add(scenario)
    }
    const measured = await runner.run(scenario, seconds)
    const { result } = measured
    runs.push({ scenario, round, measured })
    const expectedNon2xx = scenario.expectStatus === 200 ? 0 : result.requests
    if (Math.abs(result.non2xx - expectedNon2xx) > result.requests * 0.001)
      note(scenario.id, `round ${round}: ${result.non2xx} of ${result.requests} responses were not 2xx/3xx`)
    if (result.socketErrors > 0) note(scenario.id, `round ${round}: ${result.socketErrors} socket errors`)
    log(
      `  [${String(index + 1).padStart(2)}/${steps.length}] ${scenario.label.padEnd(46)} ` +
        `${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  ` +
        `p99 ${result.p99Ms.toFixed(2)} ms  ${Number.isFinite(measured.cpuUs) ? `${measured.cpuUs.toFixed(0)} us CPU/req` : ''}`,
    )
  }
  for (const scenario of env.scenarios) {
    const available = minted.get(scenario.requestsFile) ?? env.seededUnique.get(scenario.requestsFile) ?? 0
    if (scenario.unique && runner.offsetOf(scenario.requestsFile) > available)
      note(scenario.id, 'ran out of never-seen credentials: some requests repeated one')
  }
  return { runs, notes, coldTokens, runner }
}

export function summarize(
  env: BenchEnvironment,
  runs: Run[],
  notes: Map<string, string[]>,
): ScenarioResult[] {
  const samples = new Map<string, RunSample[]>()
  // Each scenario's ratio uses the baseline runs right before and after it.
  runs.forEach((run, index) => {
    if (run.scenario.kind === 'baseline') return
    const before = runs[index - 1]?.measured.result.rps ?? Number.NaN
    const after = runs[index + 1]?.measured.result.rps ?? Number.NaN
    const baselineRps = (before + after) / 2
    const { result, cpuUs } = run.measured
    const list = samples.get(run.scenario.id) ?? []
    list.push({
      round: run.round,
      rps: result.rps,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      cpuUs,
      baselineRps,
      ratio: result.rps / baselineRps,
      requests: result.requests,
      non2xx: result.non2xx,
      socketErrors: result.socketErrors,
    })
    samples.set(run.scenario.id, list)
  })
  const result = (scenario: Scenario, list: RunSample[]): ScenarioResult => ({
    id: scenario.id,
    label: scenario.label,
    kind: scenario.kind,
    expectStatus: scenario.expectStatus,
    samples: list,
    rps: mean(list.map((s) => s.rps)),
    p50Ms: median(list.map((s) => s.p50Ms)),
    p99Ms: median(list.map((s) => s.p99Ms)),
    cpuUs: median(list.map((s) => s.cpuUs)),
    ratio: mean(list.map((s) => s.ratio)),
    cpuRatio: Number.NaN,
    target: scenario.target,
    note: notes.get(scenario.id)?.join('; '),
    skipped: scenario.skipped,
  })
  const baselineResult = (baseline: Scenario): ScenarioResult => {
    const baselineRuns = runs.filter((run) => run.scenario === baseline).map((run) => run.measured)
    const rpsList = baselineRuns.map((m) => m.result.rps)
    return {
      ...result(baseline, []),
      rps: mean(rpsList),
      p50Ms: median(baselineRuns.map((m) => m.result.p50Ms)),
      p99Ms: median(baselineRuns.map((m) => m.result.p99Ms)),
      cpuUs: median(baselineRuns.map((m) => m.cpuUs)),
      ratio: 1,
      cpuRatio: 1,
      note: `${rpsList.length} runs between the others, ${Math.min(...rpsList).toFixed(0)}-${Math.max(...rpsList).toFixed(0)} req/s`,
    }
  }
  const main = baselineResult(env.baseline)
  // Without a row when no scenario of the run used it (BENCH_ONLY naming only MCP scenarios).
  const all = runs.some((run) => run.scenario === env.baseline) ? [main] : []
  // A scenario's own baseline (the MCP POST) gets its row just before the first scenario using it.
  const own = new Map<Scenario, ScenarioResult>()
  for (const scenario of env.scenarios) {
    const baseline = scenario.baseline
    if (baseline && !own.has(baseline) && !scenario.skipped) {
      own.set(baseline, baselineResult(baseline))
      all.push(own.get(baseline) as ScenarioResult)
    }
    const entry = result(scenario, samples.get(scenario.id) ?? [])
    const base = (baseline && own.get(baseline)) ?? main
    if (entry.kind !== 'overhead' || entry.id === 'hello') entry.cpuRatio = base.cpuUs / entry.cpuUs
    all.push(entry)
  }
  return all
}

/** One head-to-head comparison of two scenarios that differ in one thing (route count, denylist size). */
export interface PairedComparison {
  id: string
  description: string
  /** Median over pairs of b's req/s over a's. */
  ratio: number
  /** Median over pairs of a's CPU per request over b's. */
  cpuRatio: number
  pairs: { aRps: number; bRps: number; aCpuUs: number; bCpuUs: number }[]
}

const PAIRS = 6
const PAIR_SECONDS = 2

/**
 * A B B A A B B A …: short runs of the two scenarios back to back, so that drift of the machine
 * hits both alike; far tighter than dividing two ratios each measured against its own baseline.
 */
export async function comparePaired(
  runner: Runner,
  a: Scenario,
  b: Scenario,
  id: string,
  description: string,
  options: ScheduleOptions,
): Promise<PairedComparison> {
  const { warmupSeconds, log } = options
  // Re-warm both (the cold scenario may have flushed a's token cache): every token seen once more.
  for (const scenario of [a, b]) {
    let warmed = 0
    for (let i = 0; i < 10 && warmed < (scenario.steadyTokens ?? 1); i++)
      warmed += (await runner.run(scenario, warmupSeconds)).result.requests
  }
  const pairs: PairedComparison['pairs'] = []
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 === 0 ? [a, b] : [b, a]
    const measured = new Map<Scenario, Measured>()
    for (const scenario of order) measured.set(scenario, await runner.run(scenario, PAIR_SECONDS))
    const ma = measured.get(a) as Measured
    const mb = measured.get(b) as Measured
    pairs.push({ aRps: ma.result.rps, bRps: mb.result.rps, aCpuUs: ma.cpuUs, bCpuUs: mb.cpuUs })
  }
  const result = {
    id,
    description,
    ratio: median(pairs.map((pair) => pair.bRps / pair.aRps)),
    cpuRatio: median(pairs.map((pair) => pair.aCpuUs / pair.bCpuUs)),
    pairs,
  }
  log(
    `  ${description}: ${result.ratio.toFixed(3)} (req/s), ${result.cpuRatio.toFixed(3)} (CPU), ${PAIRS} ABBA pairs`,
  )
  return result
}
