import { GatewayError } from '../errors/gateway-error'

/** Runs a storage operation; any failure of D1 or KV becomes a 503 that is never forwarded. */
export async function withStorage<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (error instanceof GatewayError) throw error
    throw new GatewayError('storage_unavailable', 'Storage is unavailable; try again shortly.', {
      cause: new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`),
    })
  }
}
