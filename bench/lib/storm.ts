/**
 * The storm: a password-guessing flood from many addresses and many names, at `floodFactor` times
 * the rate of legitimate traffic (real users signing in from their known devices and refreshing
 * their tokens), against the storm gateway (its D1 a single writer at 1 ms per statement), once
 * with the rate-limit layer and once with it turned off (`RATE_LIMITING = "off"`), same flood.
 * Open loop: requests leave on schedule whether or not earlier ones were answered, as a botnet's
 * and a user base's do. See bench/README.md, "Storm".
 */
import { randomInt } from 'node:crypto'
import { describeStormRun, saturation } from './storm-report'
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
  /** A hello-world Worker in the same workerd process. */
  probeOrigin: string
  /** CPU seconds used so far by the gateway's workerd process (every Worker in it but the storm's D1). */
  workerdCpu(): number
  /** The single-writer D1's queue statistics since the last call; undefined without an answer in 3 s. */
  d1Stats(): Promise<D1QueueStats | undefined>
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
  /** The longest the harness's clock tick was late, ms (it catches up: requests bunch, none are lost). */
  harnessLagMs: number
  /**
   * Wait of a hello-world Worker in the same workerd, asked every 100 ms: how long a request
   * queued behind the gateway's work (PBKDF2 runs on the thread that serves every Worker).
   */
  probe: { p50Ms: number; p95Ms: number }
  /**
   * Share of the run (warm-up and drain included) the simulated D1 primary was busy, its longest
   * queue wait and overloaded answers; NaN when it could not be asked (workerd's thread held).
   */
  d1: D1QueueStats & { busyShare: number }
  /** What ran out first, read from the above. */
  saturated: string
}

export function percentile(values: readonly number[], p: number): number {
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

/** Flood only, until the measured part: so that the measurement sees a flood under way. */
export function warmupSeconds(layer: 'on' | 'off', periodSeconds = 10): number {
  // Without the layer: 2 s, for the backlog to build. With it: to the start of the second window
  // of the 10 s classes the flood runs in. Its first window admits a whole ceiling at once (nothing
  // was counted before it): 100 evaluations in half a second, 2-3 s of PBKDF2 on this one isolate,
  // which production spreads over a location's machines. From the second window on, the sliding
  // estimate spreads the ceiling over the period. The first window must leave the burst time to
  // drain (4 s), else the run waits for one more.
  if (layer === 'off') return 2
  const toBoundary = periodSeconds - ((Date.now() / 1000) % periodSeconds)
  return toBoundary >= 4 ? toBoundary : toBoundary + periodSeconds
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
  const probes: number[] = []
  const probe = async () => {
    const answer = await fetch(target.probeOrigin, { signal: AbortSignal.timeout(traffic.timeoutMs) })
      .then((response) => response.text())
      .catch(() => undefined)
    return answer === undefined ? traffic.timeoutMs : undefined
  }
  // D1's figures cover the whole run, warm-up and drain included (they count when statements
  // arrive, and a held gateway sends the measured part's statements late).
  await target.d1Stats()
  const started = performance.now()
  let measuring: { at: number; cpu: number; harness: NodeJS.CpuUsage } | undefined
  let probeAt = 0
  await new Promise<void>((resolve) => {
    let last = started
    const tick = setInterval(() => {
      const now = performance.now()
      const total = Math.min(warmup + traffic.seconds, (now - started) / 1000)
      if (total >= warmup && !measuring) {
        measuring = { at: now, cpu: target.workerdCpu(), harness: process.cpuUsage() }
      }
      if (measuring) lagMs = Math.max(lagMs, now - last - 10)
      last = now
      if (measuring && now - probeAt >= 100) {
        probeAt = now
        pending.push(probe().then((failed) => probes.push(failed ?? performance.now() - now)))
      }
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
  const d1Seconds = (performance.now() - started) / 1000
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
    probe: { p50Ms: percentile(probes, 50), p95Ms: percentile(probes, 95) },
    d1: d1
      ? { ...d1, busyShare: d1.busyMs / (d1Seconds * 1000) }
      : {
          statements: Number.NaN,
          busyMs: Number.NaN,
          maxWaitMs: Number.NaN,
          overloaded: Number.NaN,
          busyShare: Number.NaN,
        },
  }
  return { ...run, saturated: saturation(run, floodRate) }
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
  /** A hello-world Worker in the same workerd (bench/workers/hello.ts). */
  probeOrigin: string
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
  const started = performance.now()
  const { users, existingNames } = await seedStormUsers(
    options.offOrigin,
    options.legitUsers,
    options.victims,
  )
  const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1)
  options.log(`  seeded ${users.length} users and ${options.victims} more accounts in ${seconds(started)} s`)
  const addresses = floodAddresses(options.addresses)
  const d1Stats = async (): Promise<D1QueueStats | undefined> => {
    // workerd may have closed the kept-alive connection this reuses: again, within 3 s in all.
    const deadline = AbortSignal.timeout(3000)
    while (!deadline.aborted) {
      try {
        const response = await fetch(`${options.d1Origin}/__bench/stats`, { signal: deadline })
        return (await response.json()) as D1QueueStats
      } catch {}
    }
    return undefined
  }
  const target = (origin: string): StormTarget => ({
    origin,
    probeOrigin: options.probeOrigin,
    users,
    existingNames,
    addresses,
    workerdCpu: options.workerdCpu,
    d1Stats,
  })
  let from = performance.now()
  const withLayer = await runStorm(target(options.onOrigin), options.traffic, 'on', warmupSeconds('on'))
  options.log(`  ${describeStormRun(withLayer)} (${seconds(from)} s)`)
  from = performance.now()
  const withoutLayer = await runStorm(target(options.offOrigin), options.traffic, 'off', warmupSeconds('off'))
  options.log(`  ${describeStormRun(withoutLayer)} (${seconds(from)} s)`)
  options.log(`  storm: ${seconds(started)} s in all`)
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
