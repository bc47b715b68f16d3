import { type ChildProcess, spawn } from 'node:child_process'
import { freePort } from '../../../scripts/lib/ports'
import { createProjectCopy, type ProjectCopy } from './project-copy'

export interface StartGatewayOptions {
  /** UPSTREAM_URL for `npm start`; without it `npm start` starts its demo upstream. */
  upstreamUrl?: string
  /** Extra environment for `npm start`. */
  env?: Record<string, string>
  /**
   * Runs in the fresh project copy before `npm start`, e.g. to write another wrangler.toml.
   * More reliable than editing files under a running `wrangler dev` and waiting for a reload.
   */
  prepare?: (dir: string) => Promise<void>
  /** PORT for `npm start` (default: a free port), for an upstream that must know ISSUER first. */
  port?: number
  /** Where the gateway's port comes from (default: freePort()); the harness's own test takes one first. */
  choosePort?: () => Promise<number>
}

export interface RunningGateway {
  origin: string
  port: number
  /** Where the gateway forwards: UPSTREAM_URL, or the demo upstream `npm start` started. */
  upstreamOrigin: string
  /** The project copy the gateway runs in (its .dev.vars and .wrangler state). */
  dir: string
  /** Everything `npm start` printed so far (for diagnostics). */
  output(): string
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 15_000
const MAX_OUTPUT = 256 * 1024
// A port can be taken between freePort() and the bind, seconds later (wrangler dev binds after the
// migrations; it needs ISSUER, hence the port, before it binds, so port 0 cannot work). Another
// port is tried when `npm start` exits saying so: wrangler's "Address already in use (host:port)",
// start.ts's "port N on host is in use", or a Node listen error (demo upstream, stand-ins).
const MAX_ATTEMPTS = 3
export const PORT_TAKEN = /address already in use|EADDRINUSE|\bis in use\b/i

// Process groups still running if a test run dies before its afterAll: never leave a gateway behind.
const running = new Set<number>()
process.once('exit', () => {
  for (const pgid of running) killGroup(pgid, 'SIGKILL')
})

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false // already gone
  }
}

function groupAlive(pgid: number): boolean {
  return killGroup(pgid, 0 as unknown as NodeJS.Signals)
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return false
}

/** Whether GET `url` answers 200 within 2 s (a server that is up, as opposed to starting). */
export async function answers200(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    await response.body?.cancel()
    return response.status === 200
  } catch {
    return false
  }
}

/**
 * Starts the real gateway the way a user does: `npm start` in a fresh copy of the project, with
 * PORT set to a free port, in its own process group so that stop() ends npm, tsx, wrangler,
 * workerd and the demo upstream together. When a port it picked was taken before `npm start`
 * bound it, it starts again on other ports (a fresh copy each time), up to MAX_ATTEMPTS times.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    const started = await launchGateway(options)
    if (started.ok) return started.gateway
    if (!started.portTaken || attempt === MAX_ATTEMPTS) throw new Error(started.message)
  }
}

type Launch = { ok: true; gateway: RunningGateway } | { ok: false; portTaken: boolean; message: string }

async function launchGateway(options: StartGatewayOptions): Promise<Launch> {
  const copy: ProjectCopy = await createProjectCopy()
  try {
    await options.prepare?.(copy.dir)
  } catch (error) {
    await copy.remove()
    throw error
  }
  const port = options.port ?? (await (options.choosePort ?? freePort)())
  const origin = `http://127.0.0.1:${port}`
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NO_COLOR: '1', FORCE_COLOR: '0' }
  delete env.UPSTREAM_URL
  if (options.upstreamUrl) env.UPSTREAM_URL = options.upstreamUrl
  else env.DEMO_UPSTREAM_PORT = String(await freePort())
  // The stand-in login providers too, so test gateways never contend for their default ports.
  env.OIDC_STAND_IN_PORT = String(await freePort())
  env.GITHUB_STAND_IN_PORT = String(await freePort())
  Object.assign(env, options.env)
  const upstreamOrigin = env.UPSTREAM_URL ?? `http://127.0.0.1:${env.DEMO_UPSTREAM_PORT}`

  let output = ''
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: copy.dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pgid = child.pid as number
  running.add(pgid)
  const collect = (chunk: Buffer): void => {
    if (output.length < MAX_OUTPUT) output += chunk.toString('utf8')
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  // 'exit' may come before the last output: the pipes close after it.
  const closed = new Promise((resolve) => child.once('close', resolve))

  const stop = async (): Promise<void> => {
    if (groupAlive(pgid)) {
      killGroup(pgid, 'SIGTERM')
      if (!(await waitUntil(() => !groupAlive(pgid), STOP_TIMEOUT_MS))) killGroup(pgid, 'SIGKILL')
    }
    running.delete(pgid)
    await copy.remove()
  }

  const ready = await waitUntil(
    async () => exited || (await answers200(`${origin}/healthz`)),
    READY_TIMEOUT_MS,
  )
  if (!ready || exited) {
    await stop()
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))])
    return {
      ok: false,
      portTaken: exited && PORT_TAKEN.test(output),
      message: `the gateway did not become healthy (${exited ? 'npm start exited' : 'timeout'}):\n${output.slice(-4000)}`,
    }
  }
  return { ok: true, gateway: { origin, port, upstreamOrigin, dir: copy.dir, output: () => output, stop } }
}
