import { GatewayError } from '../errors/gateway-error'

/**
 * A proxied WebSocket outlives its handshake by hours, so the identity checked at the handshake
 * must not be trusted forever. The gateway sits in the middle of the socket: it relays every
 * message both ways (text stays text, binary stays binary, close codes and reasons pass through)
 * and closes both sides with 1008 (policy violation, RFC 6455 §7.4.1) when the credential expires
 * or when a periodic re-check finds it revoked. Timers stop when either side closes.
 */

export const POLICY_VIOLATION = 1008
const INTERNAL_ERROR = 1011

export interface SocketGuard {
  /** When the credential stops being valid (ms since epoch); undefined: it has no expiry. */
  expiresAtMs?: number
  /** How often `recheck` runs while the socket is open. */
  recheckIntervalMs: number
  /** Throws (a GatewayError) once the credential is no longer valid. */
  recheck: () => Promise<void>
}

// Codes an endpoint may send (RFC 6455 §7.4). 1005, 1006 and 1015 only describe what was
// received and must never be sent; a close without a sendable code is relayed without one.
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

function closeQuietly(socket: WebSocket, code?: number, reason?: string): void {
  try {
    if (code !== undefined && sendable(code)) socket.close(code, reason)
    else socket.close()
  } catch {
    // Already closing or closed: nothing left to tell that side.
  }
}

/**
 * The close code and reason when a re-check fails: a refused credential (401/403) is a policy
 * violation; anything else (storage down, a bug) still closes, as every check fails closed.
 */
function closeFor(error: unknown): [number, string] {
  if (error instanceof GatewayError && (error.status === 401 || error.status === 403))
    return [POLICY_VIOLATION, 'credential revoked']
  return [INTERNAL_ERROR, 'credential check unavailable']
}

/**
 * Joins the client to `upstream` through a new pair and returns the client's end (for the 101
 * response). With a guard, the credential's expiry and re-checks can end the socket.
 */
export function relayWebSocket(upstream: WebSocket, guard?: SocketGuard): WebSocket {
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket]
  server.accept()
  upstream.accept()
  // Binary frames arrive as ArrayBuffers, which send() relays as binary (a Blob it would not).
  server.binaryType = 'arraybuffer'
  upstream.binaryType = 'arraybuffer'
  let open = true
  let timer: ReturnType<typeof setTimeout> | undefined

  function end(code?: number, reason?: string): void {
    if (!open) return
    open = false
    clearTimeout(timer)
    closeQuietly(server, code, reason)
    closeQuietly(upstream, code, reason)
  }

  for (const [from, to] of [
    [server, upstream],
    [upstream, server],
  ] as const) {
    from.addEventListener('message', (event) => {
      if (!open) return
      try {
        to.send(event.data)
      } catch {
        end(INTERNAL_ERROR, 'relay failed')
      }
    })
    from.addEventListener('close', (event) => end(event.code, event.reason))
    from.addEventListener('error', () => end(INTERNAL_ERROR, 'peer error'))
  }

  if (guard) {
    let nextRecheck = Date.now() + guard.recheckIntervalMs
    const expiry = guard.expiresAtMs ?? Number.POSITIVE_INFINITY
    const schedule = (): void => {
      if (!open) return
      // One timer for whichever comes first; never longer than one interval, so an expiry years
      // away cannot overflow setTimeout's 32-bit delay.
      const delay = Math.max(0, Math.min(nextRecheck, expiry) - Date.now())
      timer = setTimeout(tick, delay)
    }
    const tick = async (): Promise<void> => {
      if (!open) return
      const now = Date.now()
      if (now >= expiry) return end(POLICY_VIOLATION, 'credential expired')
      if (now >= nextRecheck) {
        try {
          await guard.recheck()
        } catch (error) {
          return end(...closeFor(error))
        }
        nextRecheck = Date.now() + guard.recheckIntervalMs
      }
      schedule()
    }
    schedule()
  }
  return client
}
