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
import { readFile } from 'node:fs/promises'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { basename, dirname, relative, resolve } from 'node:path'
import WebSocket from 'ws'
import {
  type BenchEnvironment,
  bearerLines,
  type ServiceName,
  startEnvironment,
  TOKEN_SUBJECTS,
  writeRequests,
} from './lib/environment'
import { pickLoadGenerator } from './lib/load'
import { PROJECT_DIR } from './lib/paths'
import { freePort, stopAll } from './lib/processes'
import type { Scenario } from './lib/scenarios'

const SECONDS = 5
const SAMPLING_INTERVAL_US = 100
const TOP = 25
/** Enough never-seen tokens for the warm-up and the profiled run of a cold scenario here. */
const COLD_TOKENS = 60_000

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function log(message: string): void {
  process.stdout.write(`${message}\n`)
}

/** A tiny Chrome DevTools Protocol client: one request at a time is all this needs. */
class Inspector {
  private nextId = 1
  private readonly pending = new Map<number, (result: unknown) => void>()

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown }
      if (message.id === undefined) return
      const resolve = this.pending.get(message.id)
      this.pending.delete(message.id)
      resolve?.(message.error ? Promise.reject(new Error(JSON.stringify(message.error))) : message.result)
    })
  }

  static connect(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url)
      socket.once('open', () => resolve(new Inspector(socket)))
      socket.once('error', reject)
    })
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (result: unknown) => void)
      this.socket.send(JSON.stringify({ id, method, params }))
    })
  }

  close(): void {
    this.socket.close()
  }
}

function serviceOf(env: BenchEnvironment, scenario: Scenario): ServiceName {
  const names: ServiceName[] = ['gw', 'gw-routes', 'gw-denylist', 'naive', 'bare', 'hello', 'storage-probe']
  const found = names.find((name) => scenario.url.startsWith(`${env.origin(name)}/`))
  if (!found) throw new Error(`${scenario.id} is not served by a Worker of this harness`)
  return found
}

/** "src/proxy/gateway.ts" or "jose" or "hono" for a bundle position. */
function locate(
  bundleModule: string,
  map: SourceMap,
  mapDir: string,
  frame: CallFrame,
): { file: string; module: string; line: number } {
  if (frame.lineNumber < 0 || !frame.url) return { file: '(native)', module: '(native)', line: 0 }
  // Only the gateway's own module is in the source map; the rest is workerd's built-in JS.
  if (frame.url !== bundleModule)
    return { file: frame.url, module: `(workerd) ${frame.url}`, line: frame.lineNumber + 1 }
  const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
    originalSource?: string
    originalLine?: number
  }
  const source = entry.originalSource
  if (!source) return { file: frame.url, module: `(runtime) ${frame.url}`, line: 0 }
  const file = relative(PROJECT_DIR, resolve(mapDir, source.replace(/^file:\/\//, '')))
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1]
  return { file, module: pkg ?? file, line: (entry.originalLine ?? 0) + 1 }
}

function report(profile: CpuProfile, map: SourceMap, bundleFile: string, scenario: Scenario): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const keyOf = new Map<number, { fn: string; module: string }>()
  const located = new Map(
    profile.nodes.map((node) => [
      node.id,
      locate(basename(bundleFile), map, dirname(bundleFile), node.callFrame),
    ]),
  )
  const label = (id: number): string => {
    const node = byId.get(id) as ProfileNode
    const where = located.get(id) as ReturnType<typeof locate>
    const name = node.callFrame.functionName || '(anonymous)'
    // Minified bundles (wrangler.toml `minify = true`) have meaningless names: the place says more.
    return where.line === 0 ? name : `${where.file}:${where.line} ${name}`
  }
  for (const node of profile.nodes) {
    const where = located.get(node.id) as ReturnType<typeof locate>
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
  const map = new SourceMap(JSON.parse(await readFile(`${env.bundle.file}.map`, 'utf8')) as SourceMapPayload)
  const all = [env.baseline, ...env.scenarios]
  for (const id of wanted) {
    const scenario = all.find((candidate) => candidate.id === id)
    if (!scenario) throw new Error(`unknown scenario "${id}"; known: ${all.map((s) => s.id).join(', ')}`)
    if (scenario.unique)
      await writeRequests('cold', bearerLines(env.minter.mintMany(COLD_TOKENS, TOKEN_SUBJECTS, 'cold')))
    const service = serviceOf(env, scenario)
    let offset = 0
    const run = async (seconds: number) => {
      const result = await load.run({
        url: scenario.url,
        requestsFile: scenario.requestsFile,
        offset,
        seconds,
        connections: 8,
      })
      offset += result.requests + 64
      return result
    }
    await run(2)
    const inspector = await Inspector.connect(`ws://127.0.0.1:${inspectorPort}/${service}`)
    await inspector.send('Profiler.enable')
    await inspector.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
    await inspector.send('Profiler.start')
    const result = await run(SECONDS)
    const { profile } = await inspector.send<{ profile: CpuProfile }>('Profiler.stop')
    inspector.close()
    log(`\n${scenario.id}: ${result.rps.toFixed(0)} req/s while profiling`)
    report(profile, map, env.bundle.file, scenario)
  }
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
