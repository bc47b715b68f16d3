import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/** Resolves with the exit code once the child has exited (a signal counts as failure: 1). */
export function exitOf(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  if (child.signalCode !== null) return Promise.resolve(1)
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
}

/** Asks a child to stop, and kills it if it has not stopped after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exitOf(child)
  clearTimeout(timer)
}

/** True when nothing listens on host:port (so `wrangler dev --port` will not fail on it). */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

/** Polls `url` until it answers 200, the deadline passes, or `stop` resolves. */
export async function waitForOk(url: string, timeoutMs: number, stop: Promise<unknown>): Promise<boolean> {
  let stopped = false
  stop.then(() => {
    stopped = true
  })
  const deadline = Date.now() + timeoutMs
  while (!stopped && Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await response.body?.cancel()
      if (response.ok) return true
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}
