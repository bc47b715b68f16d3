/**
 * Cold isolate start: the first response of a fresh workerd process that holds one Worker, the
 * gateway (a public route: no storage read, so the time is startup: parsing and compiling the
 * bundle, its top-level code, the configuration parse on the first request) against the bare
 * pass-through Worker, alternating, median of several starts each.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { workerdBinary } from './build'
import { WORK_DIR } from './paths'
import { freePort, startService, stopService } from './processes'
import { median } from './schedule'
import { type WorkerService, writeWorkerdConfig } from './workerd'

export interface ColdStartResult {
  starts: number
  /** Median ms from spawning workerd to the first complete response. */
  bareMs: number
  gatewayMs: number
  /** bareMs / gatewayMs: like the other ratios, higher is better and 1.00 is the bare Worker. */
  ratio: number
}

async function firstResponseMs(
  name: string,
  workers: WorkerService[],
  service: string,
  path: string,
): Promise<number> {
  const port = await freePort()
  const config = await writeWorkerdConfig(workers, [{ service, port }], name)
  const started = performance.now()
  const child = startService(name, workerdBinary().path, ['serve', config])
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}${path}`)
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`${name}: first response ${response.status}`)
        return performance.now() - started
      } catch (error) {
        if (error instanceof Error && error.message.startsWith(name)) throw error
        if (child.child.exitCode !== null) throw new Error(`${name}: workerd exited; see ${child.logFile}`)
        if (performance.now() - started > 30_000) throw new Error(`${name}: no response in 30 s`)
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    }
  } finally {
    await stopService(child)
  }
}

export async function measureColdStart(options: {
  workers: readonly WorkerService[]
  starts: number
  gatewayPath: string
  barePath: string
}): Promise<ColdStartResult> {
  const byName = (name: string) => {
    const worker = options.workers.find((candidate) => candidate.name === name)
    if (!worker) throw new Error(`no ${name} worker`)
    return worker
  }
  const d1 = byName('d1')
  const coldD1Dir = join(WORK_DIR, 'cold-d1')
  await mkdir(coldD1Dir, { recursive: true })
  const gatewayWorkers: WorkerService[] = [
    byName('gw'),
    byName('kv-main'),
    { ...d1, sqliteObject: d1.sqliteObject && { ...d1.sqliteObject, directory: coldD1Dir } },
  ]
  const bare: number[] = []
  const gateway: number[] = []
  for (let i = 0; i < options.starts; i++) {
    bare.push(await firstResponseMs('cold-bare', [byName('bare')], 'bare', options.barePath))
    gateway.push(await firstResponseMs('cold-gw', gatewayWorkers, 'gw', options.gatewayPath))
  }
  const bareMs = median(bare)
  const gatewayMs = median(gateway)
  return { starts: options.starts, bareMs, gatewayMs, ratio: bareMs / gatewayMs }
}
