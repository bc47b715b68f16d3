/**
 * The soak: a minute of mixed traffic at 64 connections on the default gateway: valid ES256
 * tokens, API key and session cookie (200), a user's token on an admin route (403), and expired,
 * revoked, forged and missing credentials (401). Counts every status (anything else is a failure:
 * no 5xx, no other 4xx, no socket errors) and reads the isolate's JS heap (after a full GC,
 * through workerd's inspector) every 10 s: from the 10th second to the last it must stay flat,
 * since every per-isolate cache is bounded.
 */
import { join } from 'node:path'
import { uuidv7 } from '../../src/crypto/uuid7'
import { type BenchEnvironment, writeRequests } from './environment'
import { Inspector } from './inspector'
import { BENCH_DIR } from './paths'
import { hasProgram, runCommand } from './processes'
import { ITEM_PATH } from './scenarios'
import { revokedJtiKey, tamperSignature } from './tokens'

const EXPECTED = new Set([200, 401, 403])
/**
 * 100 lines a cycle, 100 cycles: 10,000 lines and 1,800 distinct bad tokens, sent round and round
 * (several times in the first 10 s at this machine's rate), so that every cache has seen all of
 * them by the first heap reading and any later growth is a leak.
 */
const CYCLES = 100
const HEAP_EVERY_SECONDS = 10
/** Heap growth from the 10th second to the end still counted as flat (GC timing, JIT code). */
const FLAT_TOLERANCE = 0.1
const FLAT_SLACK_BYTES = 1024 * 1024

export interface SoakResult {
  seconds: number
  connections: number
  requests: number
  statuses: Record<string, number>
  unexpected: number
  socketErrors: number
  p99Ms: number
  /** Used JS heap of the gateway's isolate, bytes, [seconds since start, bytes]. */
  heap: [number, number][]
  heapStartBytes: number
  heapEndBytes: number
  memoryFlat: boolean
  skipped?: string
}

async function seedRevoked(env: BenchEnvironment, jtis: string[]): Promise<void> {
  const response = await fetch(`${env.origin('kv-main')}/__bench/seed`, {
    method: 'POST',
    body: JSON.stringify({ entries: jtis.map((jti) => [revokedJtiKey(jti), '1']) }),
  })
  if (!response.ok) throw new Error(`seeding revoked jtis: ${response.status}`)
}

async function soakLines(env: BenchEnvironment, steady: string[]): Promise<string[]> {
  const longAgo = Math.floor(Date.now() / 1000) - 7200
  const revokedJtis = Array.from({ length: CYCLES }, () => uuidv7())
  await seedRevoked(env, revokedJtis)
  const line = (path: string, header = '') => `${path}\t${header}`
  const bearer = (token: string) => `Authorization: Bearer ${token}`
  const lines: string[] = []
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const token = (i: number) => steady[(cycle * 50 + i) % steady.length] as string
    for (let i = 0; i < 50; i++) lines.push(line(ITEM_PATH, bearer(token(i))))
    for (let i = 0; i < 10; i++) lines.push(line('/api/admin/items', bearer(token(i))))
    for (let i = 0; i < 8; i++) lines.push(line(ITEM_PATH, `X-API-Key: ${env.account.apiKey}`))
    for (let i = 0; i < 8; i++) lines.push(line('/app/items', `Cookie: ${env.account.sessionCookie}`))
    for (let i = 0; i < 6; i++)
      lines.push(line(ITEM_PATH, bearer(env.minter.mint(`soak-${i}`, uuidv7(), longAgo))))
    for (let i = 0; i < 6; i++)
      lines.push(
        line(
          ITEM_PATH,
          bearer(env.minter.mint(`soak-${i}`, revokedJtis[cycle % revokedJtis.length] as string)),
        ),
      )
    for (let i = 0; i < 6; i++) lines.push(line(ITEM_PATH, bearer(tamperSignature(token(i + cycle)))))
    for (let i = 0; i < 6; i++) lines.push(line(ITEM_PATH))
  }
  return lines
}

export async function runSoak(
  env: BenchEnvironment,
  options: { seconds: number; connections: number; steadyTokens: string[]; log(message: string): void },
): Promise<SoakResult> {
  const empty = {
    seconds: options.seconds,
    connections: options.connections,
    requests: 0,
    statuses: {},
    unexpected: 0,
    socketErrors: 0,
    p99Ms: Number.NaN,
    heap: [],
    heapStartBytes: Number.NaN,
    heapEndBytes: Number.NaN,
    memoryFlat: false,
  }
  if (!(await hasProgram('wrk'))) return { ...empty, skipped: 'the soak needs wrk (apt-get install wrk)' }
  if (env.inspectorPort === undefined) return { ...empty, skipped: 'workerd runs without an inspector' }
  const file = await writeRequests('soak', await soakLines(env, options.steadyTokens))
  const inspector = await Inspector.connect(env.inspectorPort, 'gw')
  const heap: [number, number][] = []
  const started = performance.now()
  // Readings every 10 s and one 2 s before the end, all while the load runs (workerd's inspector
  // answered slowly or not at all once the isolate had gone idle).
  const marks: number[] = []
  for (let at = HEAP_EVERY_SECONDS; at < options.seconds - 2; at += HEAP_EVERY_SECONDS) marks.push(at)
  marks.push(options.seconds - 2)
  const sampler = (async () => {
    for (const at of marks) {
      const wait = started + at * 1000 - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const bytes = await inspector.heapUsedBytes().catch(() => Number.NaN)
      heap.push([at, bytes])
      options.log(`  soak: ${at} s, isolate heap ${(bytes / 1048576).toFixed(1)} MiB`)
    }
  })()
  const output = await runCommand('wrk', [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    join(BENCH_DIR, 'wrk', 'soak.lua'),
    `${env.origin('gw')}/`,
    '--',
    file,
    '0',
  ])
  await sampler
  inspector.close()
  const summaryLine = output.split('\n').find((candidate) => candidate.startsWith('BENCH_SOAK '))
  if (!summaryLine) throw new Error(`wrk printed no soak summary:\n${output}`)
  const summary = JSON.parse(summaryLine.slice('BENCH_SOAK '.length)) as {
    requests: number
    socket_errors: number
    p99_us: number
    statuses: Record<string, number>
  }
  const unexpected = Object.entries(summary.statuses)
    .filter(([status]) => !EXPECTED.has(Number(status)))
    .reduce((sum, [, n]) => sum + n, 0)
  const start = heap[0]?.[1] ?? Number.NaN
  const end = heap.at(-1)?.[1] ?? Number.NaN
  return {
    seconds: options.seconds,
    connections: options.connections,
    requests: summary.requests,
    statuses: summary.statuses,
    unexpected,
    socketErrors: summary.socket_errors,
    p99Ms: summary.p99_us / 1000,
    heap,
    heapStartBytes: start,
    heapEndBytes: end,
    memoryFlat: end <= start * (1 + FLAT_TOLERANCE) + FLAT_SLACK_BYTES,
  }
}
