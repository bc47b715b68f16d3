/**
 * Helpers for the admin CLI tests: run `scripts/admin.ts` the way `npm run admin` does (tsx under
 * this Node), or in this process (support/admin-in-process.ts), and read what it wrote straight
 * from the same local D1/KV state (support/local-state.ts, as `wrangler d1 execute --local` reads).
 * Close the states a file opened (closeLocalStates) before their directories go.
 */
import { localState } from './support/admin-in-process'
import type { KvKey, Row } from './support/local-state'
import { PROJECT_ROOT } from './support/project-copy'
import { type Run, runProcess, TSX_CLI } from './support/run-process'

export { adminBareInProcess, adminInProcess, closeLocalStates } from './support/admin-in-process'

export type { Run }

function run(
  command: string,
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return runProcess(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...options.env },
    stdin: options.stdin,
  })
}

/** A fresh local state directory with every migration applied (the run's migrated state, copied). */
export { createMigratedState } from './support/migrated-state'

/** `npm run admin -- <args> --persist-to <state>`, with `stdin` piped in (empty by default). */
export function admin(
  state: string,
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return run(process.execPath, [TSX_CLI, 'scripts/admin.ts', ...args, '--persist-to', state], options)
}

/** The CLI with no D1 target: --help, usage errors, and --url (GATEWAY_URL) runs. */
export function adminOverHttp(
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return run(process.execPath, [TSX_CLI, 'scripts/admin.ts', ...args], options)
}

/** The CLI without a target (for --help and usage errors). */
export function adminBare(args: readonly string[]): Promise<Run> {
  return run(process.execPath, [TSX_CLI, 'scripts/admin.ts', ...args])
}

/** Through npm itself, as an operator types it. */
export function npmRunAdmin(args: readonly string[]): Promise<Run> {
  return run('npm', ['run', '--silent', 'admin', '--', ...args])
}

export type { Row } from './support/local-state'

/** Runs SQL (trusted test text) on the state's D1 as one batch; returns each statement's rows. */
export async function query(state: string, sqlText: string): Promise<Row[][]> {
  return (await localState(state)).execute(sqlText)
}

/** The value of a key in the state's KV (binding KV), or undefined when absent. */
export async function kvGet(state: string, key: string): Promise<string | undefined> {
  return (await localState(state)).kvGet(key)
}

/** Every key in the state's KV with its expiration (seconds since the epoch). */
export async function kvList(state: string): Promise<KvKey[]> {
  return (await localState(state)).kvList()
}
