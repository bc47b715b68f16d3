/**
 * Where a scenario's time goes inside the Worker: samples the V8 CPU profiler of one workerd isolate
 * (through workerd's inspector) while the load generator drives that scenario, then maps every
 * sample back through the production bundle's source map to src/ and node_modules/.
 *
 *   npx tsx bench/profile.ts [scenario-id ...]     (default: es256-steady; see bench/lib/scenarios.ts)
 *
 * Profiling slows the isolate down; read the shares, not the absolute times. Native work (ECDSA,
 * SHA-256, HTTP parsing) appears under the JS function that called it, or as "(program)".
 */
import { basename } from 'node:path'
import { startEnvironment, writeRequests } from './lib/environment'
import { pickLoadGenerator } from './lib/load'
import { freePort, stopAll } from './lib/processes'
import { loadSourceMap, type ProfiledRun, profileScenario, stageCostsOf } from './lib/profiler'
import { formatStageTable, type StageCosts } from './lib/stages'

const SECONDS = 5
const TOP = 25
/** Enough never-seen tokens for the warm-up and the profiled run of a cold scenario here. */
const COLD_TOKENS = 20_000

function log(message: string): void {
  process.stdout.write(`${message}\n`)
}

function report(run: ProfiledRun): void {
  const { profile, located, parent, scenario } = run
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const label = (id: number): string => {
    const node = byId.get(id) as (typeof profile.nodes)[number]
    const where = located.get(id) as { file: string; line: number }
    const name = node.callFrame.functionName || '(anonymous)'
    // Minified bundles (wrangler.toml `minify = true`) have meaningless names: the place says more.
    return where.line === 0 ? name : `${where.file}:${where.line} ${name}`
  }
  const keyOf = new Map<number, { fn: string; module: string }>()
  for (const node of profile.nodes) {
    const where = located.get(node.id) as { module: string }
    let fn = label(node.id)
    // A runtime built-in (Headers#get, fetch, crypto) is named after its JS caller, which says more.
    if (where.module === '(native)' && !fn.startsWith('(')) {
      const caller = parent.get(node.id)
      if (caller !== undefined) fn = `${fn} <- ${label(caller)}`
    }
    keyOf.set(node.id, { fn, module: where.module })
  }
  const self = new Map<string, number>()
  const selfByModule = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let idle = 0
  profile.samples.forEach((nodeId, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    const key = keyOf.get(nodeId)
    if (!key) return
    if (key.fn === '(idle)') {
      idle += delta
      return
    }
    total += delta
    self.set(key.fn, (self.get(key.fn) ?? 0) + delta)
    selfByModule.set(key.module, (selfByModule.get(key.module) ?? 0) + delta)
    const seen = new Set<string>()
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const fn = keyOf.get(id)?.fn
      if (fn && !seen.has(fn) && byId.has(id)) {
        seen.add(fn)
        inclusive.set(fn, (inclusive.get(fn) ?? 0) + delta)
      }
    }
  })
  const print = (
    title: string,
    entries: Map<string, number>,
    filter: (key: string) => boolean = () => true,
  ) => {
    log(`\n${title}`)
    const sorted = [...entries].filter(([key]) => filter(key)).sort((a, b) => b[1] - a[1])
    for (const [key, time] of sorted.slice(0, TOP))
      log(`  ${((time / total) * 100).toFixed(1).padStart(5)}%  ${key}`)
  }
  log(`\n=== ${scenario.label} (${scenario.id}) ===`)
  log(
    `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms of the isolate's thread ` +
      `(shares below are of busy time)`,
  )
  print('self time by module', selfByModule)
  print('self time by function', self)
  print('inclusive time, src/ functions', inclusive, (key) => /(^| <- )src\//.test(key))
}

async function main(): Promise<void> {
  const ids = process.argv.slice(2)
  const wanted = ids.length > 0 ? ids : ['es256-steady']
  const inspectorPort = await freePort()
  const load = await pickLoadGenerator()
  const env = await startEnvironment({ log, inspectorPort })
  const map = await loadSourceMap(env.bundle.file)
  const all = [env.baseline, ...env.scenarios]
  const stages: StageCosts[] = []
  for (const id of wanted) {
    const scenario = all.find((candidate) => candidate.id === id)
    if (!scenario) throw new Error(`unknown scenario "${id}"; known: ${all.map((s) => s.id).join(', ')}`)
    if (scenario.mintUnique)
      await writeRequests(basename(scenario.requestsFile, '.txt'), scenario.mintUnique(COLD_TOKENS))
    const run = await profileScenario({
      env,
      load,
      inspectorPort,
      map,
      scenario,
      offset: 0,
      warmupSeconds: 2,
      seconds: SECONDS,
      connections: 8,
    })
    log(`\n${scenario.id}: ${run.result.rps.toFixed(0)} req/s while profiling`)
    report(run)
    stages.push(stageCostsOf(run))
  }
  log('\nCPU us per request by stage (sampled while profiling; see bench/lib/stages.ts):')
  log(formatStageTable(stages))
}

main().then(
  () => stopAll(),
  async (error: unknown) => {
    process.stderr.write(
      `profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    await stopAll()
    process.exitCode = 1
  },
)
