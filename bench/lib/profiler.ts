/**
 * Samples the V8 CPU profiler of one Worker's isolate while the load generator drives a scenario,
 * and maps every sample back through the production bundle's source map to src/ and node_modules/.
 * Used by bench/profile.ts (the detailed report) and by `npm run bench` (the stage table).
 */
import { readFile } from 'node:fs/promises'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { basename, dirname, relative, resolve } from 'node:path'
import type { BenchEnvironment, ServiceName } from './environment'
import { Inspector } from './inspector'
import type { LoadGenerator, LoadResult } from './load'
import { PROJECT_DIR } from './paths'
import type { Scenario } from './scenarios'
import { type StageCosts, stageCosts } from './stages'

const SAMPLING_INTERVAL_US = 100

export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

export interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface Location {
  file: string
  module: string
  line: number
}

export interface ProfiledRun {
  scenario: Scenario
  result: LoadResult
  profile: CpuProfile
  /** Where each profile node's function lives. */
  located: Map<number, Location>
  parent: Map<number, number>
}

export async function loadSourceMap(bundleFile: string): Promise<SourceMap> {
  return new SourceMap(JSON.parse(await readFile(`${bundleFile}.map`, 'utf8')) as SourceMapPayload)
}

export function serviceOf(env: BenchEnvironment, scenario: Scenario): ServiceName {
  const names: ServiceName[] = [
    'gw',
    'gw-routes',
    'gw-denylist',
    'gw-storm',
    'naive',
    'bare',
    'hello',
    'storage-probe',
  ]
  const found = names.find((name) => scenario.url.startsWith(`${env.origin(name)}/`))
  if (!found) throw new Error(`${scenario.id} is not served by a Worker of this harness`)
  return found
}

/** "src/proxy/gateway.ts" or "jose" or "hono" for a bundle position. */
function locate(bundleModule: string, map: SourceMap, mapDir: string, frame: CallFrame): Location {
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

export interface ProfileOptions {
  env: BenchEnvironment
  load: LoadGenerator
  inspectorPort: number
  map: SourceMap
  scenario: Scenario
  /** Where in the scenario's request file to start (cold tokens must not repeat). */
  offset: number
  warmupSeconds: number
  seconds: number
  connections: number
}

/** A warm-up run, then a profiled run of the same scenario. */
export async function profileScenario(options: ProfileOptions): Promise<ProfiledRun & { offset: number }> {
  const { env, load, scenario } = options
  let offset = options.offset
  const run = async (seconds: number) => {
    const result = await load.run({
      url: scenario.url,
      requestsFile: scenario.requestsFile,
      offset,
      seconds,
      connections: options.connections,
      post: scenario.post,
    })
    offset += result.requests + options.connections * 8
    return result
  }
  await run(options.warmupSeconds)
  const inspector = await Inspector.connect(options.inspectorPort, serviceOf(env, scenario))
  let profile: CpuProfile
  let result: LoadResult
  try {
    await inspector.send('Profiler.enable')
    await inspector.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
    await inspector.send('Profiler.start')
    result = await run(options.seconds)
    profile = (await inspector.send<{ profile: CpuProfile }>('Profiler.stop')).profile
    await inspector.send('Profiler.disable')
  } finally {
    inspector.close()
  }
  const bundleFile = env.bundle.file
  const located = new Map(
    profile.nodes.map((node) => [
      node.id,
      locate(basename(bundleFile), options.map, dirname(bundleFile), node.callFrame),
    ]),
  )
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  return { scenario, result, profile, located, parent, offset }
}

/** The stage costs of a profiled run (see stages.ts). */
export function stageCostsOf(run: ProfiledRun): StageCosts {
  const idle = new Set(
    run.profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id),
  )
  const samples: { files: string[]; native?: string; us: number }[] = []
  const byId = new Map(run.profile.nodes.map((node) => [node.id, node]))
  run.profile.samples.forEach((nodeId, i) => {
    if (idle.has(nodeId)) return
    const files: string[] = []
    for (let id: number | undefined = nodeId; id !== undefined; id = run.parent.get(id)) {
      const file = run.located.get(id)?.file
      if (file?.startsWith('src/') || file?.startsWith('node_modules/jose/')) files.push(file)
    }
    const leaf = byId.get(nodeId)
    const native = run.located.get(nodeId)?.file === '(native)' ? leaf?.callFrame.functionName : undefined
    samples.push({ files, native, us: run.profile.timeDeltas[i] ?? 0 })
  })
  return stageCosts(run.scenario.id, samples, run.result.requests)
}
