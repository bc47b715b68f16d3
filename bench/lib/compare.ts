/**
 * This run against a previous one (by default the committed bench/results/latest.json): per
 * scenario the `x bare` ratio and the CPU per request before and now, and a flag where the ratio
 * fell by more than the run-to-run noise. Ratios, not req/s: each is divided by a baseline measured
 * next to it, so two runs on differently loaded machines stay comparable; the CPU column is context.
 *
 * The noise: the same code measured three times on the idle 2-core machine moved ratios by up to
 * ±0.07 (bench/README.md); BENCH_NOISE overrides it. A scenario whose own rounds in this run differ
 * by more (a busy machine) is flagged only beyond that spread: a fall smaller than the run's own
 * scatter says nothing. The run states both.
 */
import { readFile } from 'node:fs/promises'
import type { BenchReport, ScenarioResult } from './report'
import { median } from './schedule'

export const DEFAULT_NOISE = 0.07

export interface ComparisonRow {
  id: string
  label: string
  ratioBefore: number
  ratioNow: number
  cpuUsBefore: number
  cpuUsNow: number
  /** The fall that counts: the noise, or this scenario's own round-to-round spread when larger. */
  threshold: number
  /** The ratio fell by more than the threshold. */
  slower: boolean
}

export interface Comparison {
  /** The file compared with, and when that run was made. */
  against: string
  previousRun: string
  noise: number
  /** This run's own spread: max - min of each scenario's per-round ratios, median and largest. */
  roundSpread: { median: number; max: number; scenarios: number }
  rows: ComparisonRow[]
  /** Ids of the rows flagged slower. */
  slower: string[]
}

export async function readPreviousReport(file: string): Promise<BenchReport | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BenchReport
  } catch {
    return undefined
  }
}

/** max - min of a scenario's per-round ratios (0 with one round). */
function roundSpreadOf(result: ScenarioResult): number {
  const ratios = result.samples.map((sample) => sample.ratio)
  return ratios.length > 1 ? Math.max(...ratios) - Math.min(...ratios) : 0
}

const compared = (result: ScenarioResult) =>
  (result.kind === 'gateway' || result.kind === 'peer') && !result.skipped && Number.isFinite(result.ratio)

export function compareRuns(
  previous: BenchReport,
  against: string,
  results: readonly ScenarioResult[],
  noise: number,
): Comparison {
  const before = new Map(previous.scenarios.filter(compared).map((result) => [result.id, result]))
  const rows: ComparisonRow[] = []
  for (const now of results.filter(compared)) {
    const old = before.get(now.id)
    if (!old) continue
    const threshold = Math.max(noise, roundSpreadOf(now))
    rows.push({
      id: now.id,
      label: now.label,
      ratioBefore: old.ratio,
      ratioNow: now.ratio,
      cpuUsBefore: old.cpuUs,
      cpuUsNow: now.cpuUs,
      threshold,
      slower: now.ratio < old.ratio - threshold,
    })
  }
  const spreads = results.filter((result) => compared(result) && result.samples.length > 1).map(roundSpreadOf)
  return {
    against,
    previousRun: previous.generatedAt,
    noise,
    roundSpread: {
      median: median(spreads),
      max: spreads.length > 0 ? Math.max(...spreads) : Number.NaN,
      scenarios: spreads.length,
    },
    rows,
    slower: rows.filter((row) => row.slower).map((row) => row.id),
  }
}

function signed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return '-'
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`
}

/** One table row per scenario both runs have, then the spread and the verdict. */
export function formatComparison(comparison: Comparison): string {
  const header = [
    'scenario',
    'x bare before',
    'now',
    'delta',
    'flagged below',
    'CPU us before',
    'now',
    'delta',
    '',
  ]
  const body = comparison.rows.map((row) => [
    row.id,
    row.ratioBefore.toFixed(2),
    row.ratioNow.toFixed(2),
    signed(row.ratioNow - row.ratioBefore, 2),
    `-${row.threshold.toFixed(2)}`,
    Number.isFinite(row.cpuUsBefore) ? row.cpuUsBefore.toFixed(0) : '-',
    Number.isFinite(row.cpuUsNow) ? row.cpuUsNow.toFixed(0) : '-',
    signed(row.cpuUsNow - row.cpuUsBefore, 0),
    row.slower ? 'SLOWER' : '',
  ])
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((cells) => (cells[i] ?? '').length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`
  const rule = `|${widths.map((width, i) => `${'-'.repeat(width + 1)}${i === 0 ? '-' : ':'}`).join('|')}|`
  const { roundSpread: spread } = comparison
  const verdict =
    comparison.slower.length === 0
      ? "no scenario's x bare fell by more than the noise"
      : `SLOWER by more than the noise: ${comparison.slower.join(', ')}`
  return [
    `Against ${comparison.against} (run of ${comparison.previousRun}):`,
    '',
    line(header),
    rule,
    ...body.map(line),
    '',
    `Noise: x bare is flagged when it falls by more than ${comparison.noise.toFixed(2)} (BENCH_NOISE; three runs of the same ` +
      `code on the idle machine moved by up to ±0.07), or by more than the scenario's own round-to-round spread in ` +
      `this run when that is larger. This run's rounds differ by ${fixed2(spread.median)} (median) and ` +
      `${fixed2(spread.max)} (largest) over ${spread.scenarios} scenarios. ${verdict}.`,
  ].join('\n')
}

function fixed2(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '-'
}
