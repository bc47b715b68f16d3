/** A child process run to its end with its output collected: for tests whose subject is a CLI. */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'

/** tsx's CLI, as `npm run <script>` runs our scripts. */
export const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  /** Written to the child's stdin, which is then closed (default: nothing). */
  stdin?: string
}

/** Runs `command` asynchronously (PLATFORM.md: a blocked event loop loses kept-alive sockets). */
export function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<Run> {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}
