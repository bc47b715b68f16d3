/**
 * The operator CLI run in the test's own process: `runAdmin` (what `npm run admin` runs) with its
 * stdin, stdout, stderr and environment swapped in for the call, and the wrangler layer of
 * scripts/lib/admin-d1.ts (`executeSql`, `putKv`, `putKvBulk`) served by ./local-state.ts on the
 * same `--persist-to` directory instead of a `wrangler` process per call. Everything above that
 * layer (argument parsing, validation, hashing, the SQL each command builds, the messages and the
 * exit code) is the CLI's own code. For tests about the SQL and what it leaves in D1 and KV;
 * tests about the process (stdin, exit status, help, wrangler itself) spawn it (admin-support.ts).
 */
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { vi } from 'vitest'
import type * as AdminD1 from '../../../scripts/lib/admin-d1'
import type { AdminTarget } from '../../../scripts/lib/admin-target'
import type { Run } from '../admin-support'
import { type LocalState, openLocalState } from './local-state'

export interface InProcessOptions {
  stdin?: string
  env?: Record<string, string>
}

const ADMIN_D1 = fileURLToPath(new URL('../../../scripts/lib/admin-d1.ts', import.meta.url))

const states = new Map<string, Promise<LocalState>>()

/** The open local state for a directory, opened on first use and kept until closeLocalStates(). */
export function localState(persistTo: string): Promise<LocalState> {
  let state = states.get(persistTo)
  if (!state) {
    state = openLocalState(persistTo)
    states.set(persistTo, state)
  }
  return state
}

/** Disposes the states opened here for these directories, or all of them (before they are removed). */
export async function closeLocalStates(...dirs: string[]): Promise<void> {
  const closing = dirs.length > 0 ? dirs : [...states.keys()]
  await Promise.all(
    closing.map(async (dir) => {
      const state = states.get(dir)
      states.delete(dir)
      await (await state)?.dispose()
    }),
  )
}

function stateOf(target: AdminTarget): Promise<LocalState> {
  if (target.remote || target.env !== undefined || target.persistTo === undefined) {
    throw new Error('the in-process CLI acts on local state given with --persist-to only')
  }
  return localState(target.persistTo)
}

function redact(text: string, secrets: readonly string[] = []): string {
  return secrets.reduce((out, secret) => (secret ? out.replaceAll(secret, '[redacted]') : out), text)
}

let runAdmin: Promise<(args: readonly string[]) => Promise<number>> | undefined

/** Imports the CLI with admin-d1's wrangler calls replaced by the local state; once per test file. */
function loadRunAdmin() {
  runAdmin ??= (async () => {
    vi.doMock(ADMIN_D1, async (importOriginal) => {
      const original = await importOriginal<typeof AdminD1>()
      const replaced: Pick<typeof AdminD1, 'executeSql' | 'putKv' | 'putKvBulk'> = {
        async executeSql(target, command, options = {}) {
          if (Buffer.byteLength(command) > original.MAX_COMMAND_BYTES)
            throw new Error('SQL batch too large for one command')
          try {
            return await (await stateOf(target)).execute(command)
          } catch (error) {
            throw new original.WranglerError(redact(String((error as Error).message), options.secrets))
          }
        },
        async putKv(target, key, value, ttlSeconds) {
          await (await stateOf(target)).kvPut(key, value, ttlSeconds)
        },
        async putKvBulk(target, entries, ttlSeconds) {
          const state = await stateOf(target)
          for (const { key, value } of entries) await state.kvPut(key, value, ttlSeconds)
        },
      }
      return { ...original, ...replaced }
    })
    return (await import('../../../scripts/lib/admin-main')).runAdmin
  })()
  return runAdmin
}

// The process-wide streams and environment are swapped per run: one run at a time.
let queue: Promise<unknown> = Promise.resolve()

/**
 * `npm run admin -- <args> --persist-to <state>` in this process, with `stdin` as its standard
 * input (not a terminal, as when piped) and `env` added to the environment for the call.
 */
export function adminInProcess(state: string, args: readonly string[], options: InProcessOptions = {}) {
  return enqueue([...args, '--persist-to', state], options)
}

/** `npm run admin -- <args>` in this process with no D1 target: help, usage errors, --url runs. */
export function adminBareInProcess(args: readonly string[], options: InProcessOptions = {}): Promise<Run> {
  return enqueue([...args], options)
}

function enqueue(args: string[], options: InProcessOptions): Promise<Run> {
  const run = queue.then(() => runOnce(args, options))
  queue = run.catch(() => undefined)
  return run
}

async function runOnce(args: string[], options: InProcessOptions): Promise<Run> {
  const run = await loadRunAdmin()
  const output = { stdout: '', stderr: '' }
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin')
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write }
  const saved = Object.entries(options.env ?? {}).map(([name]) => [name, process.env[name]] as const)
  Object.defineProperty(process, 'stdin', {
    configurable: true,
    value: Readable.from([Buffer.from(options.stdin ?? '')]),
  })
  for (const stream of ['stdout', 'stderr'] as const) {
    process[stream].write = ((chunk: string | Uint8Array) => {
      output[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      return true
    }) as typeof process.stdout.write
  }
  Object.assign(process.env, options.env)
  try {
    const code = await run(args)
    return { code, ...output }
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    process.stdout.write = writes.stdout
    process.stderr.write = writes.stderr
    if (stdin) Object.defineProperty(process, 'stdin', stdin)
  }
}
