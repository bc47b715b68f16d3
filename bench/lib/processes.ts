import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { WORK_DIR } from './paths'

/** A child the harness started; stopped by its own pid only. */
export interface Service {
  name: string
  child: ChildProcess
  logFile: string
}

const started: Service[] = []

/** Starts a long-running child with its output in bench/.work/<name>.log. */
export function startService(name: string, command: string, args: string[], cwd?: string): Service {
  const logFile = join(WORK_DIR, `${name}.log`)
  const log = createWriteStream(logFile)
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  const service = { name, child, logFile }
  started.push(service)
  return service
}

/** Runs a command to completion; resolves with its stdout, rejects with its output on failure. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve(stdout)
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}\n${stdout}\n${stderr}`))
    })
  })
}

/** Whether a program is on PATH (without running it). */
export async function hasProgram(name: string): Promise<boolean> {
  try {
    await runCommand('sh', ['-c', `command -v ${name}`])
    return true
  } catch {
    return false
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.connect(port, '127.0.0.1')
  })
}

/** Waits until every port accepts connections, or fails naming the service and its log. */
export async function waitForPorts(service: Service, ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (service.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${service.name} did not listen on ${port}; see ${service.logFile}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

function stop(service: Service): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return Promise.resolve()
  return new Promise<void>((resolve) => {
    // A server stuck in a busy loop never handles SIGTERM.
    const timer = setTimeout(() => service.child.kill('SIGKILL'), 1_500)
    service.child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    service.child.kill('SIGTERM')
  })
}

/** Stops one child this harness started, by its own pid. */
export async function stopService(service: Service): Promise<void> {
  const index = started.indexOf(service)
  if (index >= 0) started.splice(index, 1)
  await stop(service)
}

/** Stops every child this harness started (SIGTERM to each pid, then SIGKILL if it lingers). */
export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map(stop))
}

// Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream kernel build.
const CLOCK_TICKS_PER_SECOND = 100

/**
 * CPU seconds (user + system) a process has used so far, from /proc; NaN where there is no /proc.
 * Unlike req/s this barely moves when other work competes for the cores, so the harness reports it
 * next to throughput.
 */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}
