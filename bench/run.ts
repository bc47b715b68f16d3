/**
 * `npm run bench`: the gateway's production bundle under raw workerd (no wrangler dev proxy), next to
 * a bare pass-through Worker and two peers, under the same load generator, interleaved so machine
 * drift cancels out of the ratios. See bench/README.md for what is simulated and why.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, relative } from 'node:path'
import {
  type BenchEnvironment,
  bearerLines,
  startEnvironment,
  TOKEN_SUBJECTS,
  writeRequests,
} from './lib/environment'
import { type LoadGenerator, type LoadResult, pickLoadGenerator } from './lib/load'
import { machineInfo } from './lib/machine'
import { BENCH_DIR, PROJECT_DIR, RESULTS_DIR, ROOT_DIR, WORK_DIR } from './lib/paths'
import { cpuSeconds, stopAll } from './lib/processes'
import {
  type BenchReport,
  formatTable,
  formatTargets,
  kib,
  type RunSample,
  renderMarkdown,
  renderSvg,
  type ScenarioResult,
  type TargetResult,
  updateReadme,
} from './lib/report'
import { interleave, type Scenario } from './lib/scenarios'

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const ROUNDS = envNumber('BENCH_ROUNDS', 2)
const SECONDS = envNumber('BENCH_SECONDS', 3)
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 1)
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 8)
const PBKDF2_SAMPLES = 20
/** A subset of scenario ids, comma-separated: a quick comparison; results go to bench/.work only. */
const ONLY = process.env.BENCH_ONLY?.split(',')
  .map((id) => id.trim())
  .filter(Boolean)

const SIMULATED = [
  'KV: an in-memory Worker in the same workerd process answers the KV binding protocol (bench/workers/kv-memory.ts); production KV reads cost more.',
  'D1: workerd has no D1 binding; the real D1 client module talks to a SQLite Durable Object on local disk (bench/workers/d1-sqlite.ts); production D1 is a network round trip.',
  'Upstream: a static 200 on loopback; the external IdP is a local RSA key whose JWKS the upstream serves.',
  "Everything (load generator, workerd, upstream, simulators) shares this machine: absolute req/s are this machine's, the ratios are the result.",
]

function log(message: string): void {
  process.stdout.write(`${message}\n`)
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length
}

/** CPU ms the process spends per request on `url`, requests sent one at a time. */
async function cpuPerRequest(pid: number | undefined, url: string, samples: number): Promise<number> {
  const before = cpuSeconds(pid)
  for (let i = 0; i < samples; i++) {
    const response = await fetch(url)
    await response.text()
    if (!response.ok) throw new Error(`${url}: ${response.status}`)
  }
  return ((cpuSeconds(pid) - before) * 1000) / samples
}

interface Measured {
  result: LoadResult
  /** CPU µs per request of the process serving the scenario. */
  cpuUs: number
}

class Runner {
  /** How far into each unique-request file the runs have got. */
  private readonly offsets = new Map<string, number>()

  constructor(
    private readonly load: LoadGenerator,
    private readonly env: BenchEnvironment,
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
      connections: CONNECTIONS,
    })
    const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests
    // Requests in flight when a run stops were generated but not counted: skip a margin.
    if (scenario.unique) this.offsets.set(scenario.requestsFile, offset + result.requests + CONNECTIONS * 4)
    return { result, cpuUs }
  }
}

interface Run {
  scenario: Scenario
  round: number
  measured: Measured
}

async function runSchedule(env: BenchEnvironment, load: LoadGenerator) {
  const runner = new Runner(load, env)
  const steps = interleave(env.baseline, env.scenarios, ROUNDS)
  const runs: Run[] = []
  const notes = new Map<string, string[]>()
  const note = (id: string, text: string) => notes.set(id, [...(notes.get(id) ?? []), text])
  let coldTokens = 0
  let baselineWarm = false
  log(
    `running ${steps.length} load runs: ${ROUNDS} round(s), ${SECONDS} s each (+${WARMUP_SECONDS} s warm-up), ` +
      `${CONNECTIONS} connections, ${load.version}`,
  )
  for (const [index, { scenario, round }] of steps.entries()) {
    if (scenario.unique && coldTokens === 0) {
      // Enough never-seen tokens for every cold request of every round (no run is faster than bare).
      const fastest = Math.max(
        ...runs.filter((run) => run.scenario === env.baseline).map((r) => r.measured.result.rps),
      )
      coldTokens = Math.min(2_000_000, Math.ceil(fastest * (SECONDS + WARMUP_SECONDS) * ROUNDS * 1.3) + 5_000)
      const started = performance.now()
      await writeRequests('cold', bearerLines(env.minter.mintMany(coldTokens, TOKEN_SUBJECTS, 'cold')))
      log(`  minted ${coldTokens} cold tokens in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
    if (scenario !== env.baseline || !baselineWarm) {
      let warm = await runner.run(scenario, WARMUP_SECONDS)
      // Steady state: every token verified once before the clock starts.
      while (scenario.steadyTokens && warm.result.requests < scenario.steadyTokens)
        warm = await runner.run(scenario, WARMUP_SECONDS)
      baselineWarm ||= scenario === env.baseline
    }
    const measured = await runner.run(scenario, SECONDS)
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
  if (coldTokens > 0 && runner.offsetOf(env.files.cold) > coldTokens)
    note('es256-cold', 'ran out of cold tokens: some requests repeated a token')
  return { runs, notes, coldTokens }
}

function summarize(env: BenchEnvironment, runs: Run[], notes: Map<string, string[]>): ScenarioResult[] {
  const samples = new Map<string, RunSample[]>()
  // Each scenario's ratio uses the baseline runs right before and after it.
  runs.forEach((run, index) => {
    if (run.scenario === env.baseline) return
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
    note: notes.get(scenario.id)?.join('; '),
    skipped: scenario.skipped,
  })
  const baselineRuns = runs.filter((run) => run.scenario === env.baseline).map((run) => run.measured)
  const rpsList = baselineRuns.map((m) => m.result.rps)
  const baseline: ScenarioResult = {
    ...result(env.baseline, []),
    rps: mean(rpsList),
    p50Ms: median(baselineRuns.map((m) => m.result.p50Ms)),
    p99Ms: median(baselineRuns.map((m) => m.result.p99Ms)),
    cpuUs: median(baselineRuns.map((m) => m.cpuUs)),
    ratio: 1,
    note: `${rpsList.length} runs between the others, ${Math.min(...rpsList).toFixed(0)}-${Math.max(...rpsList).toFixed(0)} req/s`,
  }
  const all = [baseline, ...env.scenarios.map((scenario) => result(scenario, samples.get(scenario.id) ?? []))]
  for (const entry of all)
    if (entry.kind !== 'overhead' || entry.id === 'hello') entry.cpuRatio = baseline.cpuUs / entry.cpuUs
  return all
}

function checkTargets(results: ScenarioResult[], gzipBytes: number): TargetResult[] {
  const byId = new Map(results.map((result) => [result.id, result]))
  const ratio = (id: string) => byId.get(id)?.ratio ?? Number.NaN
  const atLeast = (description: string, value: number, target: number): TargetResult => ({
    description: `${description} >= ${target.toFixed(2)}`,
    value: value.toFixed(2),
    pass: value >= target,
  })
  return [
    atLeast('ES256 steady vs bare', ratio('es256-steady'), 0.9),
    {
      description: 'ES256 steady above the naive Hono peer',
      value: `${ratio('es256-steady').toFixed(2)} vs ${ratio('naive-hono').toFixed(2)}`,
      pass: ratio('es256-steady') > ratio('naive-hono'),
    },
    atLeast('ES256 cold vs bare', ratio('es256-cold'), 0.6),
    atLeast('no credentials vs bare', ratio('missing-token'), 1.5),
    atLeast('bad signature vs bare', ratio('bad-signature'), 0.7),
    atLeast(
      '1,000 routes vs default table (ES256 steady)',
      ratio('routes-1000') / ratio('es256-steady'),
      0.95,
    ),
    atLeast(
      '100,000 revoked jtis vs none (ES256 steady)',
      ratio('denylist-100k') / ratio('es256-steady'),
      0.95,
    ),
    { description: 'bundle <= 100 KiB gzipped', value: kib(gzipBytes), pass: gzipBytes <= 100 * 1024 },
  ]
}

async function main(): Promise<void> {
  const startedAt = Date.now()
  const machine = machineInfo(loadavg())
  const load = await pickLoadGenerator()
  const env = await startEnvironment({ log, only: ONLY })
  const { runs, notes, coldTokens } = await runSchedule(env, load)
  const results = summarize(env, runs, notes)

  log('measuring PBKDF2 (100,000 iterations) in workerd ...')
  const pid = env.workerd.service.child.pid
  const pbkdf2 = await cpuPerRequest(pid, `${env.origin('pbkdf2')}/pbkdf2?iterations=100000`, PBKDF2_SAMPLES)
  const noop = await cpuPerRequest(pid, `${env.origin('pbkdf2')}/`, PBKDF2_SAMPLES)
  const login = {
    pbkdf2CpuMs: pbkdf2 - noop,
    tokenEndpointCpuMs: env.account.loginCpuMs / env.account.loginMs.length,
    tokenEndpointMs: median(env.account.loginMs),
    logins: env.account.loginMs.length,
  }
  const byId = new Map(results.map((result) => [result.id, result]))
  const cpuOf = (id: string) => byId.get(id)?.cpuUs ?? Number.NaN
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    command: 'npm ci && npm run bench   (full peer set: apt-get install wrk haproxy nginx-light)',
    machine,
    tools: {
      workerd: `workerd ${env.workerd.version} (compatibility date ${env.bundle.compatibilityDate})`,
      load: load.version,
      upstream: env.upstream.kind,
      haproxy: env.haproxy?.version ?? 'not installed',
    },
    simulated: SIMULATED,
    settings: { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS },
    bundle: {
      rawBytes: env.bundle.rawBytes,
      gzipBytes: env.bundle.gzipBytes,
      wranglerSummary: env.bundle.wranglerSummary,
    },
    harness: {
      helloRps: byId.get('hello')?.rps ?? Number.NaN,
      upstreamDirectRps: byId.get('upstream-direct')?.rps ?? Number.NaN,
      bareRps: byId.get('bare')?.rps ?? Number.NaN,
      simulatedKvReadUs: cpuOf('kv-read') - cpuOf('hello'),
      simulatedD1QueryUs: cpuOf('d1-query') - cpuOf('hello'),
      coldTokens,
      wallSeconds: Math.round((Date.now() - startedAt) / 1000),
    },
    login,
    scenarios: results,
    targets: checkTargets(results, env.bundle.gzipBytes),
  }

  // A partial run (BENCH_ONLY) or a run of another checkout never replaces the published results.
  const publish = ONLY === undefined && PROJECT_DIR === ROOT_DIR
  const outDir = publish ? RESULTS_DIR : WORK_DIR
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(join(outDir, 'latest.svg'), renderSvg(report))
  const readme =
    publish &&
    (await updateReadme(join(BENCH_DIR, 'README.md'), renderMarkdown(report, 'results/latest.svg')))

  log('')
  log(formatTable(results))
  for (const result of results) if (result.note) log(`  note ${result.id}: ${result.note}`)
  log('')
  log(
    `harness overhead: hello-world Worker ${report.harness.helloRps.toFixed(0)} req/s, ${env.upstream.kind} ` +
      `directly ${report.harness.upstreamDirectRps.toFixed(0)} req/s, bare pass-through ${report.harness.bareRps.toFixed(0)} req/s`,
  )
  log(
    `simulator cost inside workerd (counted in the gateway rows' CPU): one KV read ` +
      `${report.harness.simulatedKvReadUs.toFixed(0)} us, one D1 query ${report.harness.simulatedD1QueryUs.toFixed(0)} us`,
  )
  log(
    `bundle: ${kib(report.bundle.rawBytes)} raw, ${kib(report.bundle.gzipBytes)} gzip (${report.bundle.wranglerSummary})`,
  )
  log(
    `password grant: PBKDF2-SHA256 x100,000 = ${login.pbkdf2CpuMs.toFixed(1)} ms of CPU in workerd; ` +
      `POST /auth/token ${login.tokenEndpointCpuMs.toFixed(1)} ms of CPU, ${login.tokenEndpointMs.toFixed(1)} ms wall ` +
      `(median of ${login.logins} logins, D1 simulated)`,
  )
  log('simulated:')
  for (const line of SIMULATED) log(`  - ${line}`)
  log('')
  log('targets:')
  log(formatTargets(report.targets))
  log('')
  const written = [join(outDir, 'latest.json'), join(outDir, 'latest.svg')]
  if (readme) written.push(join(BENCH_DIR, 'README.md'))
  log(
    `wrote ${written.map((file) => relative(ROOT_DIR, file)).join(', ')} in ${report.harness.wallSeconds} s`,
  )
}

let stopping = false
async function shutdown(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await stopAll()
  process.exit(code)
}

process.once('SIGINT', () => void shutdown(130))
process.once('SIGTERM', () => void shutdown(143))
main().then(
  () => shutdown(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.stderr.write(`logs: ${relative(ROOT_DIR, WORK_DIR)}/*.log\n`)
    void shutdown(1)
  },
)
