import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { freePort } from '../../../scripts/lib/ports'
import { answers200 } from './gateway'

/**
 * examples/fastapi under uvicorn, with Debian's packages (python3-fastapi, python3-uvicorn,
 * python3-jwt): the interpreter apt installs them for, called by path because another python3
 * (pyenv, a venv) may come first on PATH.
 */
export const PYTHON = '/usr/bin/python3'
/** How the docs start the app: `/usr/bin/python3 -m uvicorn main:app --port 8000`. */
export const UVICORN_ARGS = ['-m', 'uvicorn', 'main:app', '--port']
const PACKAGES = 'python3-fastapi python3-uvicorn python3-jwt python3-cryptography'

const READY_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 5_000
const PORT_ATTEMPTS = 5

export interface RunningApp {
  origin: string
  output(): string
  stop(): Promise<void>
}

// uvicorn runs without --reload: one process, so killing it by pid ends it. Never leave it behind.
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** Throws, saying what to install, unless the example's packages import under PYTHON. */
export function requirePythonPackages(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', 'import fastapi, uvicorn, jwt, cryptography'], (error, _stdout, stderr) => {
      if (!error) return resolve()
      reject(
        new Error(
          `the FastAPI example needs Debian's ${PACKAGES} under ${PYTHON} ` +
            `(apt-get install -y ${PACKAGES}; .ci/run installs them when root):\n${stderr || error.message}`,
        ),
      )
    })
  })
}

/** The app's environment, given the origin it will serve on. */
export type AppEnv = (origin: string) => Record<string, string>

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

/** One attempt on `port`: the app answering, or undefined when uvicorn exited. */
async function startOn(port: number, cwd: string, env: AppEnv) {
  const origin = `http://127.0.0.1:${port}`
  const child = spawn(PYTHON, [...UVICORN_ARGS, String(port)], {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env(origin) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited(child)
    clearTimeout(timer)
    running.delete(child)
  }
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      running.delete(child)
      return { app: undefined, output }
    }
    // Answering and still running: not some other server that had the port first.
    if ((await answers200(`${origin}/status`)) && child.exitCode === null)
      return { app: { origin, output: () => output, stop }, output }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error(`uvicorn did not answer on ${origin} within ${READY_TIMEOUT_MS} ms:\n${output}`)
}

/**
 * `python3 -m uvicorn main:app --port P` in `cwd` (examples/fastapi), P a free port; another
 * one when the bind fails (taken between the check and the bind).
 */
export async function startFastApiApp(cwd: string, env: AppEnv): Promise<RunningApp> {
  for (let attempt = 1; ; attempt++) {
    const { app, output } = await startOn(await freePort(), cwd, env)
    if (app) return app
    if (!/address already in use/i.test(output) || attempt === PORT_ATTEMPTS)
      throw new Error(`uvicorn exited at start (attempt ${attempt}):\n${output}`)
  }
}
