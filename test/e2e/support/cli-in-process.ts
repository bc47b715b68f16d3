/**
 * A CLI command run in the test's own process: its stdout and stderr captured, `process.exit` turned
 * into a throw, `process.exitCode` read and restored. For tests about what a command decides and
 * prints, where a process per call would spend seconds of CPU loading tsx and wrangler; tests about
 * the process itself (exit status, streams) spawn it. Calls run one at a time, since the writers and
 * the exit code are the process's own.
 */

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

let queue: Promise<unknown> = Promise.resolve()

async function capture(command: () => void | Promise<void>): Promise<CliRun> {
  const out = { stdout: '', stderr: '' }
  const { stdout, stderr } = process
  const writes = { stdout: stdout.write, stderr: stderr.write }
  const { exit, exitCode } = process
  // A process stops at its first exit(): a command's catch around that call (which a real exit
  // never reaches) must neither change the code nor add output.
  let exited: number | undefined
  const writer = (stream: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      if (exited === undefined)
        out[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
      return true
    }) as typeof stdout.write
  stdout.write = writer('stdout')
  stderr.write = writer('stderr')
  process.exit = ((code?: number) => {
    exited ??= code ?? 0
    throw new Exit(exited)
  }) as typeof process.exit
  process.exitCode = undefined
  try {
    await command()
    return { code: Number(process.exitCode ?? 0), ...out }
  } catch (error) {
    if (exited === undefined) throw error
    return { code: exited, ...out }
  } finally {
    stdout.write = writes.stdout
    stderr.write = writes.stderr
    process.exit = exit
    process.exitCode = exitCode
  }
}

/** Runs `command` after every earlier call has finished. */
export function runInProcess(command: () => void | Promise<void>): Promise<CliRun> {
  const run = queue.then(() => capture(command))
  queue = run.catch(() => undefined)
  return run
}
