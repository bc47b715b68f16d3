import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { unstable_readConfig } from 'wrangler'
import { PROJECT_DIR, WORK_DIR } from './paths'
import { runCommand } from './processes'

export interface GatewayBundle {
  /** The Worker's main module as `wrangler deploy` would upload it. */
  file: string
  rawBytes: number
  gzipBytes: number
  /** wrangler's own "Total Upload: … / gzip: …" line. */
  wranglerSummary: string
  compatibilityDate: string
  compatibilityFlags: string[]
  /** `[vars]` of wrangler.toml as the deployed Worker gets them. */
  vars: Record<string, unknown>
  /** wrangler.toml's `[[ratelimits]]` entries (the storm's gateways get them as bindings). */
  ratelimits: RateLimitEntry[]
  /** What the bundle is made of, largest first (esbuild's metafile from the same build). */
  composition: BundlePart[]
}

export interface BundlePart {
  /** An npm package, or a folder of src/. */
  name: string
  /** Bytes this part contributes to the minified bundle. */
  rawBytes: number
  /**
   * Its share of the gzipped bundle, estimated in proportion to its raw bytes (gzip compresses
   * the file as a whole, so per-part sizes can only be apportioned).
   */
  gzipBytes: number
}

/** One `[[ratelimits]]` entry as wrangler reads it. */
interface WranglerRateLimit {
  name: string
  namespace_id: string
  simple: { limit: number; period: number }
}

export interface RateLimitEntry {
  name: string
  namespace: string
  limit: number
  period: number
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>
}

function partOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1]
  if (pkg) return pkg
  const src = /(?:^|\/)src\/([^/]+)\//.exec(input)?.[1]
  if (src) return `src/${src}/`
  return /(?:^|\/)src\//.test(input) ? 'src/ (top level)' : '(wrangler shims)'
}

function composition(meta: Metafile, gzipBytes: number): BundlePart[] {
  const sizes = new Map<string, number>()
  let total = 0
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      sizes.set(partOf(input), (sizes.get(partOf(input)) ?? 0) + bytesInOutput)
      total += bytesInOutput
    }
  }
  return [...sizes]
    .map(([name, rawBytes]) => ({ name, rawBytes, gzipBytes: (rawBytes / Math.max(1, total)) * gzipBytes }))
    .sort((a, b) => b.rawBytes - a.rawBytes)
}

const requireFromWrangler = createRequire(createRequire(import.meta.url).resolve('wrangler/package.json'))

/** The workerd binary that wrangler itself runs (the one its compatibility dates are checked against). */
export function workerdBinary(): { path: string; version: string; compatibilityDate: string } {
  const workerd = requireFromWrangler('workerd') as {
    default: string
    version: string
    compatibilityDate: string
  }
  return { path: workerd.default, version: workerd.version, compatibilityDate: workerd.compatibilityDate }
}

/** The production bundle: exactly `wrangler deploy --dry-run`, offline. */
export async function buildGateway(): Promise<GatewayBundle> {
  const outdir = join(WORK_DIR, 'dist')
  const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js')
  const metafile = join(outdir, 'bundle-meta.json')
  const args = [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '--metafile', metafile]
  const output = await runCommand(process.execPath, args, {
    cwd: PROJECT_DIR,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  })
  const summary = /Total Upload:[^\n]*/.exec(output)?.[0]?.trim() ?? 'wrangler printed no upload size'
  const config = unstable_readConfig({ config: join(PROJECT_DIR, 'wrangler.toml') }, { hideWarnings: true })
  const file = join(outdir, 'index.js')
  const bytes = await readFile(file)
  const gzipBytes = gzipSync(bytes).length
  return {
    file,
    rawBytes: bytes.length,
    gzipBytes,
    composition: composition(JSON.parse(await readFile(metafile, 'utf8')) as Metafile, gzipBytes),
    wranglerSummary: summary,
    compatibilityDate: config.compatibility_date ?? '2026-05-01',
    compatibilityFlags: config.compatibility_flags,
    vars: { ...(config.vars as Record<string, unknown>) },
    ratelimits: (config.ratelimits ?? []).map((entry: WranglerRateLimit) => ({
      name: entry.name,
      namespace: entry.namespace_id,
      limit: entry.simple.limit,
      period: entry.simple.period,
    })),
  }
}

/** Bundles one of the harness's own Workers (simulators, peers) into a single ES module. */
export async function bundleWorker(entry: string, name: string): Promise<string> {
  const outfile = join(WORK_DIR, 'workers', `${name}.js`)
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    logLevel: 'error',
  })
  return outfile
}
