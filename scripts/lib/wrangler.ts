import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/** The project's own wrangler (pinned in package.json), run with the current node: no npx, no global. */
export function wranglerBin(): string {
  return join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')
}

/**
 * The environment wrangler runs with. WRANGLER_SEND_METRICS=false: no telemetry from local runs.
 * CI=true where asked: wrangler then skips confirmation prompts (it checks `ci-info`), which
 * `d1 migrations apply` would otherwise show on a terminal.
 */
export function wranglerEnv(options: { nonInteractive?: boolean } = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false' }
  if (options.nonInteractive) env.CI = 'true'
  return env
}

export function spawnWrangler(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [wranglerBin(), ...args], {
    stdio: 'inherit',
    env: wranglerEnv(),
    ...options,
  })
}

/** Runs wrangler to completion; resolves with its exit code (a signal counts as failure). */
export function runWrangler(args: readonly string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawnWrangler(args, options)
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

/**
 * The options of a pass-through argument list that select *which* config and state wrangler uses,
 * so companion commands (migrations) act on the same database as the main one.
 */
export function sharedOptions(args: readonly string[], names: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    for (const name of names) {
      if (arg === name && i + 1 < args.length) {
        out.push(arg, args[i + 1] as string)
        i++
        break
      }
      if (arg.startsWith(`${name}=`)) {
        out.push(arg)
        break
      }
    }
  }
  return out
}

export function hasOption(args: readonly string[], name: string): boolean {
  return args.some((arg) => arg === name || arg.startsWith(`${name}=`))
}
