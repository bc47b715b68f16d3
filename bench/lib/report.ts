import { readFile, writeFile } from 'node:fs/promises'
import type { BundlePart } from './build'
import type { CodeExchangeResult } from './code-exchange'
import type { ColdStartResult } from './cold-start'
import { type Comparison, formatComparison } from './compare'
import type { MachineInfo } from './machine'
import { describePasskeySignIns, type PasskeySignInResult } from './passkey-sign-in'
import type { SoakResult } from './soak'
import { formatStageTable, type StageCosts } from './stages'
import type { StormResult } from './storm'
import { describeStormRun, type stormContract } from './storm-report'
import { describeTotpSignIns, type TotpSignInResult } from './totp-sign-in'

/** A scenario's stage costs: as sampled, and scaled to the CPU per request measured in the runs. */
export interface StageReport extends StageCosts {
  /** The scenario's CPU µs per request from the interleaved runs (the whole workerd process). */
  measuredCpuUs: number
  /** `stages` scaled so that they add up to measuredCpuUs (the profiler's overhead taken out). */
  scaled: StageCosts['stages']
}

export type ScenarioKind = 'overhead' | 'baseline' | 'gateway' | 'peer'

export interface RunSample {
  round: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** CPU time of the serving process (workerd: every Worker and simulator in it) per request, in µs. */
  cpuUs: number
  /** Mean of the baseline runs just before and just after this one. */
  baselineRps: number
  ratio: number
  requests: number
  non2xx: number
  socketErrors: number
}

export interface ScenarioResult {
  id: string
  label: string
  kind: ScenarioKind
  expectStatus: number
  samples: RunSample[]
  rps: number
  p50Ms: number
  p99Ms: number
  cpuUs: number
  /** Mean over rounds of rps / nearby baseline. */
  ratio: number
  /**
   * Baseline CPU per request / this scenario's: the throughput ratio a dedicated core would give.
   * Other work on the machine moves it far less than it moves req/s.
   */
  cpuRatio: number
  /** The issue's target for this ratio, when it has one. */
  target?: number
  note?: string
  skipped?: string
}

export interface TargetResult {
  description: string
  value: string
  pass: boolean
  /** For a MISS: the stage that holds it, or the bundle's largest parts (bench/lib/targets.ts). */
  heldBy?: string
}

export interface BenchReport {
  generatedAt: string
  command: string
  machine: MachineInfo
  tools: Record<string, string>
  simulated: string[]
  settings: { rounds: number; seconds: number; warmupSeconds: number; connections: number }
  bundle: { rawBytes: number; gzipBytes: number; wranglerSummary: string; composition: BundlePart[] }
  harness: {
    helloRps: number
    upstreamDirectRps: number
    bareRps: number
    /** workerd CPU µs of one simulated KV read / D1 query (probe minus hello-world). */
    simulatedKvReadUs: number
    simulatedD1QueryUs: number
    /** workerd CPU µs of one call of the bench's rate-limit binding ((probe minus hello-world) ÷ its calls). */
    simulatedRateLimitUs: number
    coldTokens: number
    wallSeconds: number
  }
  login: {
    /** workerd CPU time of one PBKDF2-SHA256 derivation at 100,000 iterations. */
    pbkdf2CpuMs: number
    /** workerd CPU time of one whole password-grant `POST /auth/token` (with the D1 simulator's share). */
    tokenEndpointCpuMs: number
    /** Wall time of the same request, median. */
    tokenEndpointMs: number
    logins: number
  }
  /** Authorization-code login: authorize (code issued on a session) and code → tokens. */
  codeExchange?: CodeExchangeResult
  /** Password then TOTP code: `POST /auth/login` and `POST /auth/second-factor`. */
  totpSignIn?: TotpSignInResult
  /** Passkey: authentication options, then the assertion. */
  passkeySignIn?: PasskeySignInResult
  /** CPU µs per request by stage of the request path (V8 profile), per profiled scenario. */
  stages: StageReport[]
  soak?: SoakResult
  coldStart?: ColdStartResult
  /** CONTRACT.md "Capacity": the storm's legitimate success with the layer and without. */
  storm?: ReturnType<typeof stormContract>
  /** The storm's full measurements (statuses, latencies, what saturated). */
  stormDetails?: StormResult
  scenarios: ScenarioResult[]
  /** Head-to-head runs of the default gateway against the 1,000-route and 100,000-jti ones. */
  paired: { id: string; description: string; ratio: number; cpuRatio: number; pairs: unknown[] }[]
  targets: TargetResult[]
  /** This run against the previous results (bench/lib/compare.ts), when there were any. */
  comparison?: Comparison
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

/** The one table: req/s, p50, p99 and the ratio to the nearby pass-through baseline. */
export function formatTable(scenarios: readonly ScenarioResult[]): string {
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'x bare', 'CPU us/req', 'x bare by CPU']
  const rows = scenarios.map((s) =>
    s.skipped
      ? [`${s.label} (skipped)`, '-', '-', '-', '-', '-', '-']
      : [
          s.label,
          fixed(s.rps, 0),
          fixed(s.p50Ms, 2),
          fixed(s.p99Ms, 2),
          fixed(s.ratio, 2),
          fixed(s.cpuUs, 0),
          fixed(s.cpuRatio, 2),
        ],
  )
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)))
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`
  const rule = `|${widths.map((width, i) => (i === 0 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`
  const skipped = scenarios.filter((s) => s.skipped).map((s) => `skipped ${s.id}: ${s.skipped}`)
  return [line(header), rule, ...rows.map(line), ...(skipped.length > 0 ? ['', ...skipped] : [])].join('\n')
}

export function formatTargets(targets: readonly TargetResult[]): string {
  return targets
    .map(
      (t) =>
        `- ${t.pass ? 'PASS' : 'MISS'} ${t.description}: ${t.value}${t.heldBy ? ` (held by ${t.heldBy})` : ''}`,
    )
    .join('\n')
}

/**
 * CPU per operation, one line each: the sign-ins (ms of the whole flow) and the request-path
 * scenarios the issue asks to hold the line on (ms per request), each where this run measured it.
 */
export function formatOperations(report: BenchReport): string {
  const ms = (value: number) => `${fixed(value, 1)} ms`
  const lines = [
    `- password login (\`POST /auth/token\`, password grant): ${ms(report.login.tokenEndpointCpuMs)} ` +
      `(PBKDF2 ${ms(report.login.pbkdf2CpuMs)})`,
  ]
  const code = report.codeExchange
  if (code)
    lines.push(
      `- authorization-code login: ${ms(code.authorizeCpuMs + code.tokenCpuMs)} ` +
        `(authorize ${ms(code.authorizeCpuMs)}, exchange ${ms(code.tokenCpuMs)})`,
    )
  const totp = report.totpSignIn
  if (totp)
    lines.push(
      `- TOTP sign-in: ${ms(totp.passwordCpuMs + totp.codeCpuMs)} ` +
        `(password ${ms(totp.passwordCpuMs)}, code ${ms(totp.codeCpuMs)})`,
    )
  const passkey = report.passkeySignIn
  if (passkey)
    lines.push(
      `- passkey sign-in: ${ms(passkey.optionsCpuMs + passkey.assertionCpuMs)} ` +
        `(options ${ms(passkey.optionsCpuMs)}, assertion ${ms(passkey.assertionCpuMs)})`,
    )
  const perRequest: [string, string][] = [
    ['mcp-tools-call', 'MCP tools/call, body inspected'],
    ['delegated-steady', 'delegated (code-flow) token, steady'],
    ['rate-limited', '`/auth/token` refused by the rate-limit binding (429)'],
  ]
  for (const [id, name] of perRequest) {
    const result = report.scenarios.find((candidate) => candidate.id === id && candidate.samples.length > 0)
    if (result)
      lines.push(
        `- ${name}: ${fixed(result.cpuUs / 1000, 3)} ms a request (${fixed(result.ratio, 2)}x bare, ` +
          `${fixed(result.cpuRatio, 2)}x by CPU)`,
      )
  }
  if (Number.isFinite(report.harness.simulatedRateLimitUs))
    lines.push(
      `- one rate-limit binding call (the bench's simulated binding: hello + 20 calls minus hello, ÷ 20): ` +
        `${fixed(report.harness.simulatedRateLimitUs, 1)} µs`,
    )
  return ['CPU per operation (workerd process, KV and D1 simulated):', '', ...lines].join('\n')
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const KIND_COLOURS: Record<ScenarioKind, string> = {
  overhead: '#9ca3af',
  baseline: '#6b7280',
  gateway: '#f97316',
  peer: '#3b82f6',
}

/** Scenarios the chart leaves out: context for the table, not Workers to compare. */
const NOT_CHARTED: ReadonlySet<string> = new Set([
  'upstream-direct',
  'kv-read',
  'd1-query',
  'ratelimit-binding',
])

/**
 * A horizontal bar per scenario: its throughput as a multiple of the bare pass-through Worker, a
 * tick where the issue's target lies, and the CPU-implied ratio as a hollow bar behind it.
 */
export function renderSvg(report: BenchReport): string {
  const shown = report.scenarios.filter((s) => !s.skipped && !NOT_CHARTED.has(s.id))
  const labelWidth = 300
  const barArea = 420
  const rowHeight = 24
  const top = 56
  const max = Math.max(2, ...shown.map((s) => Math.max(s.ratio, s.target ?? 0)))
  const scale = barArea / max
  const height = top + shown.length * rowHeight + 44
  const width = labelWidth + barArea + 80
  const x = (ratio: number) => (labelWidth + Math.max(0, ratio) * scale).toFixed(1)
  const bars = shown.map((s, i) => {
    const y = top + i * rowHeight
    const parts = [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(s.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${(Math.max(0.005, s.ratio) * scale).toFixed(1)}" height="${rowHeight - 8}" fill="${KIND_COLOURS[s.kind]}"/>`,
    ]
    if (Number.isFinite(s.cpuRatio))
      parts.push(
        `<rect x="${labelWidth}" y="${y + 1}" width="${(s.cpuRatio * scale).toFixed(1)}" height="${rowHeight - 4}" fill="none" stroke="#111827" stroke-width="0.6"/>`,
      )
    if (s.target !== undefined)
      parts.push(
        `<line x1="${x(s.target)}" y1="${y}" x2="${x(s.target)}" y2="${y + rowHeight - 2}" stroke="#dc2626" stroke-width="2"/>`,
      )
    parts.push(
      `<text x="${x(Math.max(s.ratio, Number.isFinite(s.cpuRatio) ? s.cpuRatio : 0))}" y="${y + 15}" dx="6">${s.ratio.toFixed(2)}x</text>`,
    )
    return parts.join('')
  })
  const bottom = top + shown.length * rowHeight
  const title = `Throughput relative to a bare pass-through Worker (1.00), ${report.machine.cores} cores, ${escapeXml(report.machine.cpu)}`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="22" font-size="14" font-weight="bold">${title}</text>
<text x="12" y="38" fill="#4b5563">Filled: req/s ratio (orange gateway, blue peers, grey harness). Outline: ratio implied by CPU per request. Red tick: target.</text>
<text x="12" y="52" fill="#4b5563">KV and D1 simulated in-process (bench/README.md). ${escapeXml(report.generatedAt)}</text>
${bars.join('\n')}
<line x1="${x(1)}" y1="${top - 4}" x2="${x(1)}" y2="${bottom + 4}" stroke="#111827" stroke-dasharray="4 3"/>
<text x="${x(1)}" y="${bottom + 18}" text-anchor="middle">1.00 = bare</text>
</svg>
`
}

export function renderMarkdown(report: BenchReport, svgPath: string): string {
  const m = report.machine
  return [
    `Last run: ${report.generatedAt} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ` +
      `${report.tools.workerd}, load generator ${report.tools.load}, upstream ${report.tools.upstream} ` +
      `(load average at start: ${m.loadAverage.join(', ')}).`,
    '',
    formatTable(report.scenarios),
    '',
    `![Throughput relative to the bare pass-through Worker](${svgPath})`,
    '',
    `Harness: a hello-world Worker serves ${fixed(report.harness.helloRps, 0)} req/s and the upstream alone ` +
      `${fixed(report.harness.upstreamDirectRps, 0)} req/s under the same load generator. Inside workerd, one ` +
      `simulated KV read costs ${fixed(report.harness.simulatedKvReadUs, 0)} us of CPU and one simulated D1 query ` +
      `${fixed(report.harness.simulatedD1QueryUs, 0)} us, one call of the simulated rate-limit binding ` +
      `${fixed(report.harness.simulatedRateLimitUs, 1)} us; the gateway rows include that cost.`,
    '',
    `Head to head with the default gateway (ES256 steady, median of ${report.paired[0]?.pairs.length ?? 0} back-to-back pairs): ` +
      report.paired
        .map(
          (pair) => `${pair.description} ${fixed(pair.ratio, 2)}x req/s, ${fixed(pair.cpuRatio, 2)}x by CPU`,
        )
        .join('; ') +
      '.',
    '',
    `Production bundle: ${kib(report.bundle.rawBytes)} raw, ${kib(report.bundle.gzipBytes)} gzip ` +
      `(wrangler: ${report.bundle.wranglerSummary}).`,
    `Password-grant login: PBKDF2-SHA256 at 100,000 iterations costs ${fixed(report.login.pbkdf2CpuMs, 1)} ms ` +
      `of CPU in workerd; a whole \`POST /auth/token\` costs ${fixed(report.login.tokenEndpointCpuMs, 1)} ms of CPU ` +
      `(${fixed(report.login.tokenEndpointMs, 1)} ms wall, median).`,
    ...extraSections(report),
    '',
    formatOperations(report),
    '',
    'Targets:',
    '',
    formatTargets(report.targets),
    ...(report.comparison ? ['', formatComparison(report.comparison)] : []),
    '',
    `Reproduce: \`${report.command}\` (for the full peer set, first \`apt-get install wrk haproxy nginx-light\`).`,
  ].join('\n')
}

/** The stage table, as scaled to the measured CPU per request. */
export function formatScaledStages(stages: readonly StageReport[]): string {
  return formatStageTable(stages.map((row) => ({ ...row, stages: row.scaled, totalUs: row.measuredCpuUs })))
}

export function formatComposition(parts: readonly BundlePart[], top = 12): string {
  const shown = parts.slice(0, top)
  const rest = parts.slice(top)
  const rows = shown.map((part) => `| ${part.name} | ${kib(part.rawBytes)} | ${kib(part.gzipBytes)} |`)
  if (rest.length > 0)
    rows.push(
      `| ${rest.length} more | ${kib(rest.reduce((sum, p) => sum + p.rawBytes, 0))} | ${kib(rest.reduce((sum, p) => sum + p.gzipBytes, 0))} |`,
    )
  return ['| part | raw | gzip (apportioned) |', '|---|---:|---:|', ...rows].join('\n')
}

const MIB = 1024 * 1024

function extraSections(report: BenchReport): string[] {
  const out: string[] = []
  if (report.stages.length > 0)
    out.push(
      '',
      'CPU µs per request by stage: V8 profile of the gateway isolate, its shares scaled to the CPU per request measured above (that CPU includes the KV/D1 simulators, which the profile cannot see, so their cost is spread over the stages in proportion); "runtime" is HTTP handling, GC and workerd outside the gateway\'s code; V8 inlines small functions, so a few µs land in a neighbouring stage:',
      '',
      formatScaledStages(report.stages),
    )
  const code = report.codeExchange
  if (code)
    out.push(
      '',
      `Authorization-code login (${code.logins} logins, PKCE, public client, no consent page): ` +
        `\`GET /auth/authorize\` issuing a code costs ${fixed(code.authorizeCpuMs, 1)} ms of CPU, ` +
        `the exchange at \`POST /auth/token\` ${fixed(code.tokenCpuMs, 1)} ms of CPU (${fixed(code.tokenMs, 1)} ms wall, median).`,
    )
  if (report.totpSignIn) out.push('', describeTotpSignIns(report.totpSignIn))
  if (report.passkeySignIn) out.push('', describePasskeySignIns(report.passkeySignIn))
  const soak = report.soak
  if (soak?.skipped) out.push('', `Soak: skipped (${soak.skipped}).`)
  else if (soak)
    out.push(
      '',
      `Soak: ${soak.seconds} s at ${soak.connections} connections, ${soak.requests} requests mixing valid, expired, ` +
        `revoked, forged and missing credentials: statuses ${Object.entries(soak.statuses)
          .map(([status, n]) => `${status} × ${n}`)
          .join(
            ', ',
          )}; ${soak.unexpected} unexpected, ${soak.socketErrors} socket errors, p99 ${fixed(soak.p99Ms, 1)} ms. ` +
        `Isolate heap ${fixed(soak.heapStartBytes / MIB, 1)} MiB at ${soak.heap[0]?.[0] ?? '-'} s, ` +
        `${fixed(soak.heapEndBytes / MIB, 1)} MiB at the end (${soak.memoryFlat ? 'flat' : 'GROWING'}).`,
    )
  const cold = report.coldStart
  if (cold)
    out.push(
      '',
      `Cold start (spawn of a fresh workerd with one Worker to its first response, median of ${cold.starts}): ` +
        `bare Worker ${fixed(cold.bareMs, 0)} ms, gateway ${fixed(cold.gatewayMs, 0)} ms (${fixed(cold.ratio, 2)}x).`,
    )
  const storm = report.stormDetails
  if (storm)
    out.push(
      '',
      `Storm (password flood from ${storm.addresses} addresses, ${Math.round(storm.traffic.existingShare * 100)}% of it at ${storm.existingNames} existing names, ` +
        `the rest at names that do not exist; ${storm.users} legitimate users, each with its own address and known device; ` +
        `D1 a single writer at ${storm.d1.statementCostMs} ms per statement; rate limits counted ${storm.counting === 'fixed' ? "in wrangler dev's fixed windows" : "by Cloudflare's sliding estimate"}; a request unanswered after ${storm.traffic.timeoutMs / 1000} s failed):`,
      '',
      `- ${describeStormRun(storm.withLayer)}`,
      `- ${describeStormRun(storm.withoutLayer)}`,
    )
  if (report.bundle.composition.length > 0)
    out.push('', 'Bundle composition:', '', formatComposition(report.bundle.composition))
  return out
}

const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'

/** Replaces the text between the result markers of a README, if it has them. */
export async function updateReadme(file: string, markdown: string): Promise<boolean> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return false
  }
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) return false
  await writeFile(file, `${text.slice(0, start + START.length)}\n${markdown}\n${text.slice(end)}`)
  return true
}
