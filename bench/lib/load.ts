import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { BENCH_DIR } from './paths'
import { hasProgram, runCommand } from './processes'
import type { PostShape } from './scenarios'

/** One load run against one URL, its requests taken round-robin from a file (one header per line). */
export interface LoadRun {
  url: string
  requestsFile: string
  /** Start after this many lines (so a measured run continues after its warm-up's tokens). */
  offset: number
  seconds: number
  connections: number
  /** POST these headers and this body with every request (each line adds its own header). */
  post?: PostShape
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  /** Responses that were not 2xx/3xx. */
  non2xx: number
  /** Connect, read and write errors and timeouts. */
  socketErrors: number
}

export interface LoadGenerator {
  name: 'wrk' | 'autocannon'
  version: string
  run(run: LoadRun): Promise<LoadResult>
}

interface WrkSummary {
  requests: number
  duration_us: number
  non2xx3xx: number
  connect_errors: number
  read_errors: number
  write_errors: number
  timeouts: number
  p50_us: number
  p90_us: number
  p99_us: number
}

const WRK_SCRIPT = join(BENCH_DIR, 'wrk', 'requests.lua')

const wrk: LoadGenerator = {
  name: 'wrk',
  version: 'wrk',
  async run(run) {
    // One thread: workerd serves from one thread too, and the machine's cores are shared by all.
    const args = ['-t1', `-c${run.connections}`, `-d${run.seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT]
    const post = run.post
      ? [
          'POST',
          run.post.body,
          ...Object.entries(run.post.headers).map(([name, value]) => `${name}: ${value}`),
        ]
      : []
    const output = await runCommand('wrk', [
      ...args,
      run.url,
      '--',
      run.requestsFile,
      String(run.offset),
      ...post,
    ])
    const line = output.split('\n').find((candidate) => candidate.startsWith('BENCH_JSON '))
    if (!line) throw new Error(`wrk printed no summary:\n${output}`)
    const summary = JSON.parse(line.slice('BENCH_JSON '.length)) as WrkSummary
    const seconds = summary.duration_us / 1e6
    return {
      requests: summary.requests,
      seconds,
      rps: summary.requests / seconds,
      p50Ms: summary.p50_us / 1000,
      p90Ms: summary.p90_us / 1000,
      p99Ms: summary.p99_us / 1000,
      non2xx: summary.non2xx3xx,
      socketErrors: summary.connect_errors + summary.read_errors + summary.write_errors + summary.timeouts,
    }
  },
}

function parseHeaderLine(line: string): Record<string, string> {
  const colon = line.indexOf(':')
  return colon > 0 ? { [line.slice(0, colon).trim()]: line.slice(colon + 1).trim() } : {}
}

const requestFiles = new Map<string, Record<string, string>[]>()

async function headerList(file: string): Promise<Record<string, string>[]> {
  let list = requestFiles.get(file)
  if (!list) {
    const text = await readFile(file, 'utf8')
    list = text.split('\n').slice(0, -1).map(parseHeaderLine)
    requestFiles.set(file, list)
  }
  return list
}

const autocannonGenerator: LoadGenerator = {
  name: 'autocannon',
  version: 'autocannon 8',
  async run(run) {
    const list = await headerList(run.requestsFile)
    let index = run.offset
    const post = run.post
    const result = await autocannon({
      url: run.url,
      connections: run.connections,
      duration: run.seconds,
      timeout: 10,
      requests: [
        {
          setupRequest: (request) => {
            const headers = list[index % list.length] ?? {}
            index++
            if (!post) return { ...request, headers: { ...request.headers, ...headers } }
            return {
              ...request,
              method: 'POST',
              body: post.body,
              headers: { ...request.headers, ...post.headers, ...headers },
            }
          },
        },
      ],
    })
    const seconds = result.duration
    const total = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx']
    return {
      requests: total,
      seconds,
      rps: total / seconds,
      p50Ms: result.latency.p50,
      p90Ms: result.latency.p90,
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
      socketErrors: result.errors + result.timeouts,
    }
  },
}

/** wrk when installed (a C load generator, far cheaper per request), else autocannon. */
export async function pickLoadGenerator(): Promise<LoadGenerator> {
  if (process.env.BENCH_LOAD_GENERATOR !== 'autocannon' && (await hasProgram('wrk'))) {
    const banner = await runCommand('wrk', ['--version']).catch((error: Error) => error.message)
    return { ...wrk, version: /^wrk (?!-)\S+/m.exec(banner)?.[0] ?? 'wrk' }
  }
  return autocannonGenerator
}
