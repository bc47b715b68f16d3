/**
 * SIMULATED Workers Rate Limiting binding for raw workerd (the storm's gateways only).
 *
 * workerd has no rate-limit binding outside miniflare; this module is loaded as a workerd
 * extension and wrapped around each `[[ratelimits]]` entry of wrangler.toml (inner bindings:
 * `namespaceId`, `limit`, `period`, `counting`), so the gateway calls the same
 * `limit({ key }) → { success }` it calls in production. Counters live in the gateway isolate's
 * memory, per binding. Two ways of counting:
 *
 * - `sliding` (the storm's default): Cloudflare's published sliding-window approximation for its
 *   rate limiting infrastructure, which the binding's documentation says it is backed by: the
 *   estimate is `previous window's count × (share of the period not yet elapsed) + this window's
 *   count`, refused at `limit`. Under a steady flood it admits about `limit / period` per second,
 *   evenly. Cloudflare does not document the binding's exact algorithm; this is the model.
 * - `fixed`: what `wrangler dev` does (miniflare's ratelimit.worker.js): exact counts in fixed
 *   windows aligned to the wall clock. Under a steady flood every window opens with `limit`
 *   admissions at once.
 *
 * Refused calls are not counted (as in miniflare), so a flood is admitted at the limit's rate,
 * not shut out entirely: the pessimistic choice for what reaches PBKDF2 and D1.
 */

interface Options {
  namespaceId: string
  limit: number
  period: number
  counting?: 'sliding' | 'fixed'
}

interface Counter {
  window: number
  current: number
  previous: number
}

/** Keys are pruned when a binding holds more than this many (stale windows only). */
const PRUNE_AT = 50_000

class BenchRateLimit {
  private readonly counters = new Map<string, Counter>()

  constructor(private readonly options: Options) {}

  async limit(request: { key?: unknown }): Promise<{ success: boolean }> {
    if (typeof request !== 'object' || request === null || typeof request.key !== 'string')
      throw new Error('invalid rate limit options')
    const periodMs = this.options.period * 1000
    const now = Date.now()
    const window = Math.floor(now / periodMs)
    const counter = this.counterOf(request.key, window)
    const remaining = 1 - (now % periodMs) / periodMs
    const estimate =
      this.options.counting === 'fixed' ? counter.current : counter.previous * remaining + counter.current
    if (estimate >= this.options.limit) return { success: false }
    counter.current++
    return { success: true }
  }

  private counterOf(key: string, window: number): Counter {
    let counter = this.counters.get(key)
    if (!counter) {
      if (this.counters.size >= PRUNE_AT) this.prune(window)
      counter = { window, current: 0, previous: 0 }
      this.counters.set(key, counter)
    } else if (counter.window !== window) {
      counter.previous = counter.window === window - 1 ? counter.current : 0
      counter.current = 0
      counter.window = window
    }
    return counter
  }

  private prune(window: number): void {
    for (const [key, counter] of this.counters) if (counter.window < window - 1) this.counters.delete(key)
  }
}

export default function wrap(options: Options): BenchRateLimit {
  return new BenchRateLimit(options)
}
