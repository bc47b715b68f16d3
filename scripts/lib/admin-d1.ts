/**
 * D1 and KV through wrangler (`d1 execute --json`, `kv key put`), the same tools an operator would
 * type, so the CLI works wherever wrangler does: local state, `--persist-to` state, or production.
 * Locally they write only the SQLite files under `.wrangler/state`, which `wrangler dev` does not
 * watch: a gateway running under `npm start` neither reloads nor drops its clients' connections
 * (test/e2e/admin-live-gateway.test.ts, which also says what did close the connections reported).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KV_MIN_TTL_SECONDS } from '../../src/db/kv-keys'
import { type AdminTarget, targetFlags } from './admin-target'
import { wranglerBin, wranglerEnv } from './wrangler'

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url))

// Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN); stay well below it per --command.
export const MAX_COMMAND_BYTES = 100_000

export type Row = Record<string, unknown>

interface StatementResult {
  results?: Row[]
  success?: boolean
}

export interface RunOptions {
  /** Values that must never reach the terminal, even inside an error message (hashes). */
  secrets?: readonly string[]
}

interface Output {
  code: number
  stdout: string
  stderr: string
}

function runWranglerCaptured(args: readonly string[]): Promise<Output> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [wranglerBin(), ...args], {
      cwd: PROJECT_ROOT,
      env: wranglerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.once('error', reject)
    child.once('close', (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 1 : 0),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    )
  })
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) if (secret.length > 0) out = out.replaceAll(secret, '[redacted]')
  return out
}

/** wrangler's own message: `{"error":{"text":...}}` on stdout with --json, else the end of stderr. */
function wranglerError(output: Output): string {
  try {
    const parsed = JSON.parse(output.stdout) as { error?: { text?: unknown } }
    if (typeof parsed.error?.text === 'string') return parsed.error.text
  } catch {
    // Not JSON: wrangler failed before running the SQL (config, login, network).
  }
  const lines = `${output.stderr}\n${output.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^[─⛅]/.test(line))
  return lines.slice(-5).join(' | ') || `wrangler exited with code ${output.code}`
}

export class WranglerError extends Error {
  override name = 'WranglerError'
}

/**
 * Runs the statements in one `wrangler d1 execute --command` (one batch: locally all or nothing)
 * and returns each statement's rows.
 */
export async function executeSql(
  target: AdminTarget,
  command: string,
  options: RunOptions = {},
): Promise<Row[][]> {
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) throw new Error('SQL batch too large for one command')
  const args = ['d1', 'execute', 'DB', ...targetFlags(target), '--json', '--yes', '--command', command]
  const output = await runWranglerCaptured(args)
  const secrets = options.secrets ?? []
  if (output.code !== 0) {
    const message = redact(wranglerError(output), secrets)
    const hint = /no such table/i.test(message)
      ? ` (are the migrations applied? npx wrangler d1 migrations apply DB ${targetFlags(target).join(' ')})`
      : ''
    throw new WranglerError(message + hint)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(output.stdout)
  } catch {
    throw new WranglerError(
      `unexpected output from wrangler: ${redact(output.stdout.slice(0, 200), secrets)}`,
    )
  }
  if (!Array.isArray(parsed)) throw new WranglerError('unexpected output from wrangler (not a list)')
  return (parsed as StatementResult[]).map((statement) => statement.results ?? [])
}

/** `wrangler kv key put --binding KV`. `ttlSeconds` must be ≥ 60: KV rejects a smaller TTL. */
export async function putKv(
  target: AdminTarget,
  key: string,
  value: string,
  ttlSeconds: number,
): Promise<void> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < KV_MIN_TTL_SECONDS) {
    throw new Error(`KV TTL must be at least ${KV_MIN_TTL_SECONDS} s`)
  }
  const args = [
    'kv',
    'key',
    'put',
    '--binding',
    'KV',
    ...targetFlags(target),
    '--ttl',
    String(ttlSeconds),
    key,
    value,
  ]
  const output = await runWranglerCaptured(args)
  if (output.code !== 0) throw new WranglerError(wranglerError(output))
}

/**
 * `wrangler kv bulk put --binding KV`: many keys in one wrangler run (each run costs 1-2 s), all
 * with the same TTL (≥ 60 s). The values pass through a private temporary file, not argv.
 */
export async function putKvBulk(
  target: AdminTarget,
  entries: readonly { key: string; value: string }[],
  ttlSeconds: number,
): Promise<void> {
  if (entries.length === 0) return
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < KV_MIN_TTL_SECONDS) {
    throw new Error(`KV TTL must be at least ${KV_MIN_TTL_SECONDS} s`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'edge-auth-admin-kv-'))
  try {
    const file = join(dir, 'entries.json')
    const body = entries.map(({ key, value }) => ({ key, value, expiration_ttl: ttlSeconds }))
    await writeFile(file, JSON.stringify(body), { mode: 0o600 })
    const args = [
      'kv',
      'bulk',
      'put',
      file,
      '--binding',
      'KV',
      ...targetFlags(target),
      '--ttl',
      String(ttlSeconds),
    ]
    const output = await runWranglerCaptured(args)
    if (output.code !== 0) throw new WranglerError(wranglerError(output))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
