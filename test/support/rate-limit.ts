import { env } from 'cloudflare:test'
import { RATE_LIMIT_CLASSES, type RateLimitClassName } from '../../src/rate-limit/classes'
import { type RateLimitedAction, rateLimitChecks } from '../../src/rate-limit/limit'

/** The simulated binding of a class, as the vitest pool built it from wrangler.toml. */
export function bindingOf(name: RateLimitClassName): RateLimit {
  const binding = (env as unknown as Record<string, RateLimit | undefined>)[RATE_LIMIT_CLASSES[name].binding]
  if (!binding) throw new Error(`no ${RATE_LIMIT_CLASSES[name].binding} binding in the test pool`)
  return binding
}

// The simulator counts in fixed windows aligned to the wall clock (floor(now / period)), all keys
// of a period rolling over together. A test that fills a counter and then expects a refusal must
// not straddle a rollover: it starts early enough in a window to finish inside it.
const MARGIN_MS = { 10: 4_000, 60: 8_000 } as const

/** Waits (at most the margin, never a whole period) until `period`'s window has time left. */
export async function freshWindow(period: 10 | 60): Promise<void> {
  const left = period * 1000 - (Date.now() % (period * 1000))
  if (left < MARGIN_MS[period]) await new Promise((resolve) => setTimeout(resolve, left + 50))
}

/** Calls the binding until it refuses `key`: the counter is full for the rest of the window. */
export async function exhaust(binding: RateLimit, key: string): Promise<number> {
  for (let admitted = 0; admitted < 5_000; admitted++) {
    if (!(await binding.limit({ key })).success) return admitted
  }
  throw new Error(`the binding never refused ${key}`)
}

/** Fills the counter that `action` counts under in class `name` (through the binding itself). */
export async function fillFor(action: RateLimitedAction, name: RateLimitClassName): Promise<void> {
  const check = (await rateLimitChecks(action)).find(([className]) => className === name)
  if (!check) throw new Error(`${action.kind} does not count in ${name}`)
  await exhaust(bindingOf(name), check[1])
}
