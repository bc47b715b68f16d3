import { spawn } from 'node:child_process'
import { expect } from 'vitest'

/**
 * A walkthrough in the docs, run as a test (README's curl walkthrough, docs/openapi-routes.md's
 * FastAPI one). The block between `<!-- walkthrough:start -->`
 * and `<!-- walkthrough:end -->` is one bash code block; blank lines split it into steps, and a
 * step's expected outcome sits in comment lines under its command:
 *
 *   # expect: 401                        HTTP status of the step's (last) curl
 *   # expect-json: {"error":"x"}         stdout is JSON containing this (deep subset)
 *   # expect-text: some text             stdout contains this text
 *
 * Steps run in order in one bash process (`set -euo pipefail`), so a step can set a variable a
 * later step uses (`TOKEN=$(curl ...)`). The status comes from a `curl` wrapper that writes
 * `%{http_code}` to stderr, leaving what the reader sees on stdout untouched.
 */

export type Expectation =
  | { kind: 'status'; status: number }
  | { kind: 'json'; subset: unknown }
  | { kind: 'text'; text: string }

export interface WalkthroughStep {
  /** 1-based position among the steps that run a command. */
  number: number
  /** The step's lines as written (comments included). */
  source: string
  expectations: Expectation[]
}

export interface StepResult {
  step: WalkthroughStep
  stdout: string
  /** Status codes of every curl the step ran, in order. */
  statuses: number[]
}

/** The bash block between `<!-- NAME:start -->` and `<!-- NAME:end -->` (README's: `walkthrough`). */
export function extractWalkthrough(markdown: string, name = 'walkthrough'): string {
  const [startMarker, endMarker] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`]
  const start = markdown.indexOf(startMarker)
  const end = markdown.indexOf(endMarker)
  if (start < 0 || end < start) throw new Error(`no ${startMarker} ... ${endMarker} section`)
  const section = markdown.slice(start + startMarker.length, end)
  const fence = /```(?:bash|sh)\n([\s\S]*?)```/.exec(section)
  if (!fence?.[1]) throw new Error(`the ${name} section holds no \`\`\`bash code block`)
  return fence[1]
}

function parseExpectation(line: string): Expectation | undefined {
  const match = /^#\s*expect(-json|-text)?:\s*(.*)$/.exec(line.trim())
  if (!match) return undefined
  const value = match[2] ?? ''
  if (match[1] === '-json') return { kind: 'json', subset: JSON.parse(value) }
  if (match[1] === '-text') return { kind: 'text', text: value }
  if (!/^\d{3}$/.test(value)) throw new Error(`"# expect:" takes an HTTP status, got "${value}"`)
  return { kind: 'status', status: Number(value) }
}

export function parseSteps(block: string): WalkthroughStep[] {
  const steps: WalkthroughStep[] = []
  for (const paragraph of block.split(/\n\s*\n/)) {
    const lines = paragraph.split('\n').filter((line) => line.trim() !== '')
    const hasCommand = lines.some((line) => !line.trim().startsWith('#'))
    if (!hasCommand) continue
    const expectations = lines.map(parseExpectation).filter((e): e is Expectation => e !== undefined)
    steps.push({ number: steps.length + 1, source: lines.join('\n'), expectations })
  }
  return steps
}

const STEP_MARK = '@@walkthrough-step'
const STATUS_MARK = '@@walkthrough-status'

function buildScript(steps: readonly WalkthroughStep[]): string {
  const lines = [
    'set -euo pipefail',
    // %{stderr} switches curl's write-out to stderr (curl >= 7.63): stdout stays what a reader sees.
    `curl() { command curl --write-out '%{stderr}${STATUS_MARK} %{http_code}\\n' "$@"; }`,
  ]
  for (const step of steps) {
    lines.push(`printf '\\n${STEP_MARK} ${step.number}\\n'`, `printf '\\n${STEP_MARK} ${step.number}\\n' >&2`)
    lines.push(step.source)
  }
  lines.push(`printf '\\n${STEP_MARK} end\\n'`, `printf '\\n${STEP_MARK} end\\n' >&2`)
  return `${lines.join('\n')}\n`
}

/** Text of each step, keyed by step number, from one stream marked with STEP_MARK lines. */
function splitByStep(text: string): Map<string, string> {
  const parts = text.split(new RegExp(`\\n${STEP_MARK} (\\d+|end)\\n`))
  const out = new Map<string, string>()
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i] as string, parts[i + 1] as string)
  return out
}

export async function runWalkthrough(
  steps: readonly WalkthroughStep[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
  /** Where the commands run: the project a reader has (its `npm run admin` reaches that gateway's D1). */
  cwd?: string,
): Promise<StepResult[]> {
  const child = spawn('bash', ['-c', buildScript(steps)], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  if (code !== 0) {
    throw new Error(
      `the walkthrough failed (bash exited ${code}):\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
    )
  }
  const outs = splitByStep(stdout)
  const errs = splitByStep(stderr)
  return steps.map((step) => {
    const err = errs.get(String(step.number)) ?? ''
    const statuses = [...err.matchAll(new RegExp(`${STATUS_MARK} (\\d{3})`, 'g'))].map((m) => Number(m[1]))
    return { step, stdout: outs.get(String(step.number)) ?? '', statuses }
  })
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return { not_json: text }
  }
}

/** Checks each step's `# expect` lines, softly: a broken walkthrough reports every wrong step at once. */
export function expectStepOutcomes(results: readonly StepResult[]): void {
  for (const { step, stdout, statuses } of results) {
    const where = `step ${step.number}:\n${step.source}\n--- output\n${stdout}`
    for (const expectation of step.expectations) {
      if (expectation.kind === 'status') expect.soft(statuses.at(-1), where).toBe(expectation.status)
      else if (expectation.kind === 'text') expect.soft(stdout, where).toContain(expectation.text)
      else expect.soft(parseJson(stdout), where).toMatchObject(expectation.subset as object)
    }
  }
}
