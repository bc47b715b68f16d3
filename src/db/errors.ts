import { GatewayError } from '../errors/gateway-error'
import { logEvent } from '../log'

/**
 * How long a storage operation may take before the request gives up on it with a 503. A healthy
 * D1 primary answers in milliseconds (tens from a far location) and KV in under a second; an
 * overloaded primary queues statements and answers "overloaded" only once its queue is full, so a
 * request could otherwise wait for as long as the client keeps the connection (a Worker has no
 * wall-clock limit while the client waits; D1's own limit is 30 s per query). Abandoning the wait
 * does not cancel the statement: a write may still commit after the 503, which is why every write
 * the gateway makes is safe to repeat (idempotent revocations, fresh random ids for new rows).
 */
export const STORAGE_TIMEOUT_MS = 5_000

function unavailable(cause: string): GatewayError {
  return new GatewayError('storage_unavailable', 'Storage is unavailable; try again shortly.', {
    cause: new Error(cause),
  })
}

/**
 * Runs a storage operation; any failure of D1 or KV, or no answer within STORAGE_TIMEOUT_MS,
 * becomes a 503 that is never forwarded (errors/render.ts adds its Retry-After).
 */
export async function withStorage<T>(what: string, operation: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(unavailable(`${what}: no answer within ${STORAGE_TIMEOUT_MS} ms`)),
      STORAGE_TIMEOUT_MS,
    )
  })
  try {
    // Promise.race also handles a late rejection of the abandoned operation.
    return await Promise.race([operation(), timeout])
  } catch (error) {
    if (error instanceof GatewayError) throw error
    throw unavailable(`${what}: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Writes a KV copy of what D1 just answered (a cache fill). The request already has the truth, so
 * a failed write is logged and the request goes on: KV allows one write per second per key, and
 * isolates that miss the same key at once (a popular API key when its copy expires) would
 * otherwise turn KV's 429 into a 503 for a credential that is valid. Writes that revoke (tombstones,
 * denylist entries) never come through here: their failure is the request's.
 */
export async function fillCache(what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write()
  } catch (error) {
    if (!(error instanceof GatewayError && error.code === 'storage_unavailable')) throw error
    const cause = error.cause instanceof Error ? error.cause.message : error.message
    logEvent('warn', 'cache_fill_failed', { what, cause })
  }
}
