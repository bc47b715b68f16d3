/**
 * The storm: a password-guessing flood from many addresses and many names, at `floodFactor` times
 * the rate of legitimate traffic (real users signing in from their known devices and refreshing
 * their tokens), against the storm gateway (its D1 a single writer at 1 ms per statement), once
 * with the rate-limit layer and once with it turned off (`RATE_LIMITING = "off"`), same flood.
 * Open loop: requests leave on schedule whether or not earlier ones were answered, as a botnet's
 * and a user base's do. See bench/README.md, "Storm".
 */
import { randomInt } from 'node:crypto'
import {
  floodAddresses,
  type LegitUser,
  seedStormUsers,
  type TokenAnswer,
  tokenRequest,
  unknownName,
  wrongPassword,
} from './storm-users'

export interface StormTraffic {
  seconds: number
  /** Legitimate requests per second, logins and refreshes alternating. */
  legitRate: number
  /** The flood's rate as a multiple of legitRate. */
  floodFactor: number
  /** A request not answered within this counts as failed (the client gives up). */
  timeoutMs: number
  /** Share of flood attempts that name an existing account (with a wrong password). */
  existingShare: number
}

export interface StormTarget {
  origin: string
  users: LegitUser[]
  existingNames: readonly string[]
  addresses: readonly string[]
  /** CPU seconds used so far by the workerd process (every Worker and simulator in it). */
  workerdCpu(): number
  /** The single-writer D1's queue statistics since the last call. */
  d1Stats(): Promise<D1QueueStats>
}

export interface D1QueueStats {
  statements: number
  busyMs: number
  maxWaitMs: number
  overloaded: number
}

export interface LegitOutcome {
  attempts: number
  succeeded: number
  /** Fraction 0–1: 200 within the timeout. */
  success: number
  /** Over every attempt, a failure at the time it failed (a timeout at timeoutMs). */
  p50Ms: number
  p95Ms: number
  /** Status → count; 0 is a timeout or a connection error. */
  statuses: Record<string, number>
}

export interface StormRun {
  layer: 'on' | 'off'
  /** Measured seconds, after `warmupSeconds` of the flood alone. */
  seconds: number
  warmupSeconds: number
  /** Achieved rates: requests sent per second. */
  floodRate: number
  legitRate: number
  logins: LegitOutcome
  refreshes: LegitOutcome
  /** Status → count of the flood's requests; 0 is a timeout or a connection error. */
  flood: Record<string, number>
  /** Share of one core workerd used (it serves from one thread: 1.0 is saturated). */
  workerdCores: number
  /** Share of one core the harness (this Node process) used. */
  harnessCores: number
  /** The longest the harness's clock tick was late, ms (a late generator sends less than asked). */
  harnessLagMs: number
  /** Share of the run the simulated D1 primary was busy, its longest queue wait and refusals. */
  d1: D1QueueStats & { busyShare: number }
  /** What ran out first, read from the above. */
  saturated: string
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

function outcome(answers: readonly TokenAnswer[]): LegitOutcome {
  const statuses: Record<string, number> = {}
  for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
  const succeeded = statuses['200'] ?? 0
  const ms = answers.map((answer) => answer.ms)
  return {
    attempts: answers.length,
    succeeded,
    success: answers.length === 0 ? Number.NaN : succeeded / answers.length,
    p50Ms: percentile(ms, 50),
    p95Ms: percentile(ms, 95),
    statuses,
  }
}

const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)] as T

/** The idle user that has waited longest (round robin), with a refresh token when one is needed. */
function nextUser(users: LegitUser[], cursor: { at: number }, needsToken: boolean): LegitUser | undefined {
  for (let i = 0; i < users.length; i++) {
    const user = users[(cursor.at + i) % users.length] as LegitUser
    if (user.busy || (needsToken && !user.refreshToken)) continue
    cursor.at = (cursor.at + i + 1) % users.length
    return user
  }
  return undefined
}

async function legitLogin(target: StormTarget, user: LegitUser, timeoutMs: number): Promise<TokenAnswer> {
  const form = { grant_type: 'password', username: user.username, password: user.password }
  const answer = await tokenRequest(target.origin, form, user.address, timeoutMs, user.deviceCookie)
  if (answer.status === 200) {
    user.refreshToken = answer.refreshToken
    user.deviceCookie = answer.deviceCookie ?? user.deviceCookie
  }
  return answer
}

async function legitRefresh(target: StormTarget, user: LegitUser, timeoutMs: number): Promise<TokenAnswer> {
  const form = { grant_type: 'refresh_token', refresh_token: user.refreshToken as string }
  const answer = await tokenRequest(target.origin, form, user.address, timeoutMs)
  // Unknown outcome (no answer, 5xx): the token may or may not have rotated; sign in next time.
  user.refreshToken = answer.status === 200 ? answer.refreshToken : undefined
  return answer
}

function floodRequest(target: StormTarget, traffic: StormTraffic): Promise<TokenAnswer> {
  const username = Math.random() < traffic.existingShare ? pick(target.existingNames) : unknownName()
  const form = { grant_type: 'password', username, password: wrongPassword() }
  return tokenRequest(target.origin, form, pick(target.addresses), traffic.timeoutMs)
}

function saturation(run: Omit<StormRun, 'saturated'>): string {
  const full: string[] = []
  if (run.workerdCores >= 0.85)
    full.push(`workerd's thread (CPU, PBKDF2): ${run.workerdCores.toFixed(2)} of a core`)
  if (run.d1.busyShare >= 0.85 || run.d1.overloaded > 0)
    full.push(`the D1 primary: busy ${(run.d1.busyShare * 100).toFixed(0)}%, ${run.d1.overloaded} overloaded`)
  if (run.harnessCores >= 0.85 || run.harnessLagMs > 250)
    full.push(
      `the harness: ${run.harnessCores.toFixed(2)} of a core, ticks up to ${run.harnessLagMs.toFixed(0)} ms late`,
    )
  return full.length > 0 ? full.join('; ') : 'nothing'
}

/** Flood only, until the measured part: so that the measurement sees a flood under way. */
export function warmupSeconds(layer: 'on' | 'off', periodSeconds = 10): number {
  // With the layer, to the next window of the 10 s classes and 2 s into it: the first window of a
  // flood admits a whole ceiling at once (nothing counted before it), the next ones admit it
  // spread over the period. Without, 2 s: enough for the flood's backlog to build.
  if (layer === 'off') return 2
  const intoPeriod = (Date.now() / 1000) % periodSeconds
  return periodSeconds - intoPeriod + 2
}

/**
 * One storm run against `target`: the flood alone for `warmup` seconds, then the flood and the
 * legitimate traffic for `traffic.seconds`, measured (the flood's answers counted from then on).
 */
export async function runStorm(
  target: StormTarget,
  traffic: StormTraffic,
  layer: 'on' | 'off',
  warmup: number,
): Promise<StormRun> {
  const floodRate = traffic.legitRate * traffic.floodFactor
  const pending: Promise<unknown>[] = []
  const flood: TokenAnswer[] = []
  const logins: TokenAnswer[] = []
  const refreshes: TokenAnswer[] = []
  const cursor = { at: 0 }
  let floodSent = 0
  let measuredFlood = 0
  let legitSent = 0
  let lagMs = 0
  const sendLegit = () => {
    const refresh = legitSent % 2 === 1
    legitSent++
    const user = nextUser(target.users, cursor, refresh) ?? nextUser(target.users, cursor, false)
    const into = refresh && user?.refreshToken ? refreshes : logins
    if (!user) {
      into.push({ status: 0, ms: 0 })
      return
    }
    user.busy = true
    const request = into === refreshes ? legitRefresh : legitLogin
    pending.push(
      request(target, user, traffic.timeoutMs).then((answer) => {
        into.push(answer)
        user.busy = false
      }),
    )
  }
  const started = performance.now()
  let measuring: { at: number; cpu: number; harness: NodeJS.CpuUsage } | undefined
  await new Promise<void>((resolve) => {
    let last = started
    const tick = setInterval(() => {
      const now = performance.now()
      const total = Math.min(warmup + traffic.seconds, (now - started) / 1000)
      if (total >= warmup && !measuring) {
        measuring = { at: now, cpu: target.workerdCpu(), harness: process.cpuUsage() }
        pending.push(target.d1Stats())
      }
      if (measuring) lagMs = Math.max(lagMs, now - last - 10)
      last = now
      while (floodSent < Math.floor(total * floodRate)) {
        floodSent++
        const answer = floodRequest(target, traffic)
        if (measuring) {
          measuredFlood++
          pending.push(answer.then((result) => flood.push(result)))
        }
      }
      if (measuring) while (legitSent < Math.floor((total - warmup) * traffic.legitRate)) sendLegit()
      if (total >= warmup + traffic.seconds) {
        clearInterval(tick)
        resolve()
      }
    }, 10)
  })
  const start = measuring as NonNullable<typeof measuring>
  const sendingSeconds = (performance.now() - start.at) / 1000
  await Promise.all(pending)
  const wallSeconds = (performance.now() - start.at) / 1000
  const harness = process.cpuUsage(start.harness)
  const d1 = await target.d1Stats()
  const run = {
    layer,
    seconds: traffic.seconds,
    warmupSeconds: warmup,
    floodRate: measuredFlood / sendingSeconds,
    legitRate: legitSent / sendingSeconds,
    logins: outcome(logins),
    refreshes: outcome(refreshes),
    flood: outcome(flood).statuses,
    workerdCores: (target.workerdCpu() - start.cpu) / wallSeconds,
    harnessCores: (harness.user + harness.system) / 1e6 / wallSeconds,
    harnessLagMs: lagMs,
    d1: { ...d1, busyShare: d1.busyMs / (wallSeconds * 1000) },
  }
  return { ...run, saturated: saturation(run) }
}

/** The contract's figures of one run (CONTRACT.md, "Capacity"). */
export function contractFigures(run: StormRun) {
  return {
    legit_login_success: run.logins.success,
    legit_refresh_success: run.refreshes.success,
    flood_rate: Math.round(run.floodRate * 10) / 10,
    legit_rate: Math.round(run.legitRate * 10) / 10,
  }
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

function describeLegit(name: string, legit: LegitOutcome): string {
  return (
    `${name} ${legit.succeeded}/${legit.attempts} (${percent(legit.success)}), ` +
    `p50 ${legit.p50Ms.toFixed(0)} ms, p95 ${legit.p95Ms.toFixed(0)} ms`
  )
}

/** One line per run, for the console and the README. */
export function describeStormRun(run: StormRun): string {
  const statuses = Object.entries(run.flood)
    .map(([status, n]) => `${status === '0' ? 'no answer' : status} × ${n}`)
    .join(', ')
  return (
    `layer ${run.layer}: flood ${run.floodRate.toFixed(0)}/s, legitimate ${run.legitRate.toFixed(1)}/s for ${run.seconds} s ` +
    `(after ${run.warmupSeconds.toFixed(1)} s of flood alone); ` +
    `${describeLegit('logins', run.logins)}; ${describeLegit('refreshes', run.refreshes)}; ` +
    `flood answers: ${statuses}; workerd ${run.workerdCores.toFixed(2)} of a core, ` +
    `D1 busy ${percent(run.d1.busyShare)} (longest wait ${run.d1.maxWaitMs.toFixed(0)} ms, ${run.d1.overloaded} overloaded), ` +
    `harness ${run.harnessCores.toFixed(2)} of a core; saturated: ${run.saturated}`
  )
}

/** The target: ≥ 99% of legitimate logins and refreshes succeed during the flood, with the layer. */
export function stormTargets(withLayer: StormRun) {
  return [
    { name: 'logins', legit: withLayer.logins },
    { name: 'refreshes', legit: withLayer.refreshes },
  ].map(({ name, legit }) => ({
    description: `storm: legitimate ${name} succeed during a flood of ${Math.round(withLayer.floodRate / withLayer.legitRate)}x their rate, with the rate-limit layer >= 99%`,
    value: `${legit.succeeded}/${legit.attempts} = ${percent(legit.success)}`,
    pass: legit.success >= 0.99,
  }))
}

export interface StormResult {
  traffic: StormTraffic
  /** Legitimate users (each with its own address and known device) and other existing names. */
  users: number
  existingNames: number
  addresses: number
  /** ms the simulated D1 primary spends per statement; queued work past which it is overloaded. */
  d1: { statementCostMs: number; queueLimitMs: number }
  /** How the rate-limit bindings counted (bench/workers/ratelimit-binding.ts). */
  counting: 'sliding' | 'fixed'
  withLayer: StormRun
  withoutLayer: StormRun
}

export interface StormOptions {
  /** The storm gateway with the layer, and the same gateway with RATE_LIMITING = "off". */
  onOrigin: string
  offOrigin: string
  d1Origin: string
  traffic: StormTraffic
  legitUsers: number
  victims: number
  addresses: number
  d1: StormResult['d1']
  counting: StormResult['counting']
  workerdCpu(): number
  log(message: string): void
}

/** Seeds the users (through the gateway without the layer), then the run with it and without. */
export async function measureStorm(options: StormOptions): Promise<StormResult> {
  const { users, existingNames } = await seedStormUsers(
    options.offOrigin,
    options.legitUsers,
    options.victims,
  )
  const addresses = floodAddresses(options.addresses)
  const d1Stats = async (): Promise<D1QueueStats> => {
    // workerd may have closed the kept-alive connection this reuses (idle, or saturated): again.
    for (let attempt = 0; ; attempt++) {
      try {
        return (await (await fetch(`${options.d1Origin}/__bench/stats`)).json()) as D1QueueStats
      } catch (error) {
        if (attempt === 3) throw error
      }
    }
  }
  const target = (origin: string): StormTarget => ({
    origin,
    users,
    existingNames,
    addresses,
    workerdCpu: options.workerdCpu,
    d1Stats,
  })
  const withLayer = await runStorm(target(options.onOrigin), options.traffic, 'on', warmupSeconds('on'))
  options.log(`  ${describeStormRun(withLayer)}`)
  const withoutLayer = await runStorm(target(options.offOrigin), options.traffic, 'off', warmupSeconds('off'))
  options.log(`  ${describeStormRun(withoutLayer)}`)
  return {
    traffic: options.traffic,
    users: users.length,
    existingNames: existingNames.length,
    addresses: addresses.length,
    d1: options.d1,
    counting: options.counting,
    withLayer,
    withoutLayer,
  }
}

/** `storm` of bench/results/latest.json, in CONTRACT.md's shape. */
export function stormContract(result: StormResult) {
  return { ...contractFigures(result.withLayer), without_rate_limit: contractFigures(result.withoutLayer) }
}
