/**
 * `npm run bench`: the gateway's production bundle under raw workerd (no wrangler dev proxy), next to
 * a bare pass-through Worker and two peers, under the same load generator, interleaved so machine
 * drift cancels out of the ratios. See bench/README.md for what is simulated and why.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { measureCodeExchange } from './lib/code-exchange'
import { measureColdStart } from './lib/cold-start'
import { compareRuns, DEFAULT_NOISE, formatComparison, readPreviousReport } from './lib/compare'
import { type BenchEnvironment, STORM_D1, startEnvironment } from './lib/environment'
import { type LoadGenerator, pickLoadGenerator } from './lib/load'
import { machineInfo } from './lib/machine'
import { measurePasskeySignIns } from './lib/passkey-sign-in'
import { BENCH_DIR, PROJECT_DIR, RESULTS_DIR, ROOT_DIR, WORK_DIR } from './lib/paths'
import { cpuSeconds, freePort, stopAll } from './lib/processes'
import { loadSourceMap, profileScenario, stageCostsOf } from './lib/profiler'
import {
  type BenchReport,
  formatComposition,
  formatOperations,
  formatScaledStages,
  formatTable,
  formatTargets,
  kib,
  renderMarkdown,
  renderSvg,
  type ScenarioResult,
  type StageReport,
  updateReadme,
} from './lib/report'
import { RATE_LIMIT_PROBE_CALLS } from './lib/scenarios'
import {
  comparePaired,
  median,
  type PairedComparison,
  type Runner,
  runSchedule,
  summarize,
} from './lib/schedule'
import { runSoak, type SoakResult } from './lib/soak'
import { STAGES } from './lib/stages'
import { measureStorm, type StormResult } from './lib/storm'
import { stormContract } from './lib/storm-report'
import { checkTargets } from './lib/targets'
import { measureTotpSignIns } from './lib/totp-sign-in'

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const ROUNDS = envNumber('BENCH_ROUNDS', 2)
const SECONDS = envNumber('BENCH_SECONDS', 3)
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 1)
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 8)
const PBKDF2_SAMPLES = 20
const SOAK_SECONDS = envNumber('BENCH_SOAK_SECONDS', 60)
const SOAK_CONNECTIONS = 64
const CODE_LOGINS = 10
/** Sign-ins with TOTP and with a passkey (each TOTP one a user of its own): 50 resolve 0.2 ms of CPU, /proc counting in 10 ms ticks. */
const FACTOR_SIGN_INS = 50
const COLD_STARTS = 5
/**
 * The scenarios whose stages are profiled (1 s warm-up + 3 s profiled each): these, and every
 * scenario with a target, so that a MISS can name the stage holding it (bench/lib/targets.ts).
 */
const STAGE_SCENARIOS = [
  'public',
  'es256-steady',
  'api-key',
  'session',
  'missing-token',
  'mcp-tools-call',
  // First sights: their stages split the credential's work (bench/lib/stages.ts).
  'es256-cold',
  'eddsa-cold',
  'external-cold',
  'api-key-cold',
  'delegated-steady',
  'rate-limited',
  'es256-steady-assertion',
]
/** A fall of `x bare` beyond this against the previous results is flagged (bench/lib/compare.ts). */
const NOISE = envNumber('BENCH_NOISE', DEFAULT_NOISE)
/** The storm (bench/lib/storm.ts): seconds of each run, legitimate requests/s, flood as a multiple of that. */
const STORM_SECONDS = envNumber('BENCH_STORM_SECONDS', 10)
const STORM_LEGIT_RATE = envNumber('BENCH_STORM_LEGIT_RATE', 4)
const STORM_FLOOD_FACTOR = envNumber('BENCH_STORM_FLOOD_FACTOR', 50)
/** A legitimate request unanswered after this failed (the gateway's own storage timeout is 5 s). */
const STORM_TIMEOUT_MS = 5000
const STORM_LEGIT_USERS = 40
const STORM_VICTIMS = 20
const STORM_ADDRESSES = 4000
/** `fixed`: the storm's bindings count as wrangler dev does instead of Cloudflare's sliding estimate. */
const STORM_COUNTING = process.env.BENCH_STORM_COUNTING === 'fixed' ? 'fixed' : 'sliding'
/** Parts of a run that are not load scenarios; BENCH_ONLY may name them too. */
const EXTRAS = [
  'stages',
  'code-exchange',
  'totp-login',
  'passkey-login',
  'soak',
  'cold-start',
  'storm',
] as const
/** `npm run bench -- --only storm`: the same as BENCH_ONLY=storm. */
const onlyFlag = process.argv.indexOf('--only')
const onlyList = onlyFlag >= 0 ? process.argv[onlyFlag + 1] : process.env.BENCH_ONLY
/** A subset of scenario ids, comma-separated: a quick comparison; results go to bench/.work only. */
const ONLY = onlyList
  ?.split(',')
  .map((id) => id.trim())
  .filter(Boolean)
const wants = (extra: (typeof EXTRAS)[number]) => ONLY === undefined || ONLY.includes(extra)

const SIMULATED = [
  'KV: an in-memory Worker in the same workerd process answers the KV binding protocol (bench/workers/kv-memory.ts); production KV reads cost more.',
  'D1: workerd has no D1 binding; the real D1 client module talks to a SQLite Durable Object on local disk (bench/workers/d1-sqlite.ts); production D1 is a network round trip.',
  'Upstream: a static 200 on loopback; the external IdP is a local RSA key whose JWKS the upstream serves.',
  "Storm: its D1 is a single writer at 1 ms per statement, overloaded past 1 s of queued work, in a workerd process of its own; its gateway's [[ratelimits]] bindings are the bench's module (Cloudflare's sliding-window estimate, counters in the isolate's memory): bench/README.md, Storm.",
  "Everything (load generator, workerd, upstream, simulators) shares this machine: absolute req/s are this machine's, the ratios are the result.",
]

function log(message: string): void {
  process.stdout.write(`${message}\n`)
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

/** Profiles each stage scenario of this run and scales its stages to the measured CPU per request. */
async function profileStages(
  env: BenchEnvironment,
  load: LoadGenerator,
  results: ScenarioResult[],
  inspectorPort: number,
  runner: Runner,
): Promise<StageReport[]> {
  const map = await loadSourceMap(env.bundle.file)
  const reports: StageReport[] = []
  const withTargets = env.scenarios.filter((scenario) => scenario.target !== undefined).map((s) => s.id)
  for (const id of new Set([...STAGE_SCENARIOS, ...withTargets])) {
    const scenario = env.scenarios.find((candidate) => candidate.id === id)
    if (!scenario || scenario.skipped) continue
    const run = await profileScenario({
      env,
      load,
      inspectorPort,
      map,
      scenario,
      // Cold tokens must not repeat: go on from where the load runs stopped.
      offset: scenario.unique ? runner.offsetOf(scenario.requestsFile) : 0,
      warmupSeconds: WARMUP_SECONDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
    })
    const costs = stageCostsOf(run)
    const measuredCpuUs = results.find((result) => result.id === id)?.cpuUs ?? Number.NaN
    const factor = Number.isFinite(measuredCpuUs) ? measuredCpuUs / costs.totalUs : 1
    const scaled = Object.fromEntries(
      STAGES.map((stage) => [stage, costs.stages[stage] * factor]),
    ) as StageReport['scaled']
    reports.push({ ...costs, measuredCpuUs, scaled })
    log(`  profiled ${id}: ${run.result.rps.toFixed(0)} req/s while profiling`)
  }
  return reports
}

async function main(): Promise<void> {
  const startedAt = Date.now()
  const machine = machineInfo(loadavg())
  const load = await pickLoadGenerator()
  const inspectorPort = await freePort()
  const scenarioIds = ONLY?.filter((id) => !(EXTRAS as readonly string[]).includes(id))
  const env = await startEnvironment({
    log,
    only: ONLY && scenarioIds?.length === 0 ? [] : scenarioIds,
    inspectorPort,
    stormCounting: STORM_COUNTING,
  })
  const schedule = {
    rounds: ROUNDS,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    connections: CONNECTIONS,
    log,
  }
  const { runs, notes, coldTokens, runner } = await runSchedule(env, load, schedule)
  const results = summarize(env, runs, notes)
  const byIdScenario = (id: string) => env.scenarios.find((scenario) => scenario.id === id)
  const steady = env.reference
  const paired: PairedComparison[] = []
  log('head-to-head comparisons with the default gateway ...')
  for (const [id, description] of [
    ['routes-1000', '1,000 routes vs default table'],
    ['denylist-100k', '100,000 revoked jtis vs none'],
  ] as const) {
    const other = byIdScenario(id)
    if (other) paired.push(await comparePaired(runner, steady, other, id, description, schedule))
  }

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
  const pid_ = env.workerd.service.child.pid
  let codeExchange: BenchReport['codeExchange']
  if (wants('code-exchange')) {
    log('measuring authorization-code logins (authorize + code exchange) ...')
    codeExchange = await measureCodeExchange({
      gatewayOrigin: env.origin('gw'),
      sessionCookie: env.account.sessionCookie,
      logins: CODE_LOGINS,
      cpuSeconds: () => cpuSeconds(pid_),
    })
  }
  let totpSignIn: BenchReport['totpSignIn']
  if (wants('totp-login')) {
    log('measuring sign-ins with TOTP (password, then the code) ...')
    totpSignIn = await measureTotpSignIns({
      gatewayOrigin: env.origin('gw'),
      d1Origin: env.origin('d1'),
      dataKeys: env.dataKeys,
      signIns: FACTOR_SIGN_INS,
      cpuSeconds: () => cpuSeconds(pid_),
    })
  }
  let passkeySignIn: BenchReport['passkeySignIn']
  if (wants('passkey-login')) {
    log(`measuring sign-ins with a passkey (gw-passkey, ISSUER ${env.passkeyIssuer}) ...`)
    passkeySignIn = await measurePasskeySignIns({
      gatewayOrigin: env.origin('gw-passkey'),
      issuer: env.passkeyIssuer,
      registerOrigin: env.origin('gw'),
      d1Origin: env.origin('d1'),
      signIns: FACTOR_SIGN_INS,
      cpuSeconds: () => cpuSeconds(pid_),
    })
  }
  let stages: StageReport[] = []
  if (wants('stages')) {
    log('profiling the request path stage by stage ...')
    stages = await profileStages(env, load, results, inspectorPort, runner)
  }
  let soak: SoakResult | undefined
  if (wants('soak')) {
    log(`soak: ${SOAK_SECONDS} s at ${SOAK_CONNECTIONS} connections, mixed credentials ...`)
    const steadyTokens = (await readFile(env.files.steady, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^Authorization: Bearer /, ''))
    soak = await runSoak(env, { seconds: SOAK_SECONDS, connections: SOAK_CONNECTIONS, steadyTokens, log })
  }
  let coldStart: BenchReport['coldStart']
  if (wants('cold-start')) {
    log(`cold start: ${COLD_STARTS} fresh workerd processes each for the bare Worker and the gateway ...`)
    coldStart = await measureColdStart({
      workers: env.workers,
      starts: COLD_STARTS,
      gatewayPath: '/api/public/items?id=42',
      barePath: '/api/public/items?id=42',
    })
  }
  let storm: StormResult | undefined
  if (wants('storm')) {
    const rate = STORM_LEGIT_RATE * STORM_FLOOD_FACTOR
    log(
      `storm: ${rate}/s password flood, ${STORM_LEGIT_RATE}/s legitimate, ${STORM_SECONDS} s with the rate-limit layer and ${STORM_SECONDS} s without ...`,
    )
    storm = await measureStorm({
      onOrigin: env.origin('gw-storm'),
      offOrigin: env.origin('gw-storm-off'),
      d1Origin: env.origin('d1-storm'),
      probeOrigin: env.origin('hello'),
      traffic: {
        seconds: STORM_SECONDS,
        legitRate: STORM_LEGIT_RATE,
        floodFactor: STORM_FLOOD_FACTOR,
        timeoutMs: STORM_TIMEOUT_MS,
        existingShare: 0.1,
      },
      legitUsers: STORM_LEGIT_USERS,
      victims: STORM_VICTIMS,
      addresses: STORM_ADDRESSES,
      d1: STORM_D1,
      counting: STORM_COUNTING,
      workerdCpu: () => cpuSeconds(pid_),
      log,
    })
  }
  const byId = new Map(results.map((result) => [result.id, result]))
  const cpuOf = (id: string) => byId.get(id)?.cpuUs ?? Number.NaN
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    command: 'npm ci && npm run bench',
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
      composition: env.bundle.composition,
    },
    harness: {
      helloRps: byId.get('hello')?.rps ?? Number.NaN,
      upstreamDirectRps: byId.get('upstream-direct')?.rps ?? Number.NaN,
      bareRps: byId.get('bare')?.rps ?? Number.NaN,
      simulatedKvReadUs: cpuOf('kv-read') - cpuOf('hello'),
      simulatedD1QueryUs: cpuOf('d1-query') - cpuOf('hello'),
      simulatedRateLimitUs: (cpuOf('ratelimit-binding') - cpuOf('hello')) / RATE_LIMIT_PROBE_CALLS,
      coldTokens,
      wallSeconds: Math.round((Date.now() - startedAt) / 1000),
    },
    login,
    codeExchange,
    totpSignIn,
    passkeySignIn,
    stages,
    soak,
    coldStart,
    storm: storm && stormContract(storm),
    stormDetails: storm,
    scenarios: results,
    paired,
    targets: checkTargets({
      results,
      paired,
      stages,
      bundle: env.bundle,
      soak,
      storm,
    }),
  }
  // Against the committed results (or BENCH_COMPARE's file), read before this run replaces them.
  const previousFile = process.env.BENCH_COMPARE ?? join(RESULTS_DIR, 'latest.json')
  const previous = await readPreviousReport(previousFile)
  if (previous) report.comparison = compareRuns(previous, relative(ROOT_DIR, previousFile), results, NOISE)

  // A partial run (BENCH_ONLY) or a run of another checkout never replaces the published results.
  const publish = ONLY === undefined && PROJECT_DIR === ROOT_DIR
  const outDir = publish ? RESULTS_DIR : WORK_DIR
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(join(outDir, 'latest.svg'), renderSvg(report))
  // bench/README.md (the project README keeps a short summary and no markers, so it is skipped).
  const readmes: string[] = []
  if (publish) {
    for (const [file, svg] of [
      [join(BENCH_DIR, 'README.md'), 'results/latest.svg'],
      [join(ROOT_DIR, 'README.md'), 'bench/results/latest.svg'],
    ] as const) {
      if (await updateReadme(file, renderMarkdown(report, svg))) readmes.push(file)
    }
  }

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
      `${report.harness.simulatedKvReadUs.toFixed(0)} us, one D1 query ${report.harness.simulatedD1QueryUs.toFixed(0)} us, ` +
      `one rate-limit binding call ${report.harness.simulatedRateLimitUs.toFixed(1)} us`,
  )
  log(
    `bundle: ${kib(report.bundle.rawBytes)} raw, ${kib(report.bundle.gzipBytes)} gzip (${report.bundle.wranglerSummary})`,
  )
  log(
    `password grant: PBKDF2-SHA256 x100,000 = ${login.pbkdf2CpuMs.toFixed(1)} ms of CPU in workerd; ` +
      `POST /auth/token ${login.tokenEndpointCpuMs.toFixed(1)} ms of CPU, ${login.tokenEndpointMs.toFixed(1)} ms wall ` +
      `(median of ${login.logins} logins, D1 simulated)`,
  )
  if (stages.length > 0) {
    log('')
    log(
      'CPU us per request by stage (V8 profile, scaled to the measured CPU per request; see bench/lib/stages.ts):',
    )
    log(formatScaledStages(stages))
  }
  log('')
  log(formatOperations(report))
  for (const line of renderMarkdown(report, '').split('\n'))
    if (/^(Authorization-code login|TOTP sign-in|Passkey sign-in|Soak|Cold start|Storm|- layer)/.test(line))
      log(`\n${line}`)
  log('')
  log('bundle composition:')
  log(formatComposition(env.bundle.composition))
  log('simulated:')
  for (const line of SIMULATED) log(`  - ${line}`)
  log('')
  log('targets:')
  log(formatTargets(report.targets))
  log('')
  if (report.comparison) {
    log(formatComparison(report.comparison))
    log('')
  }
  const written = [join(outDir, 'latest.json'), join(outDir, 'latest.svg')]
  written.push(...readmes)
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
