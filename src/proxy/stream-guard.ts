/**
 * A server-sent event stream (an MCP server's GET, or any `text/event-stream` answer to an
 * authenticated request) can stay open for hours, like a WebSocket: the identity checked when it
 * opened must not be trusted for as long. The gateway passes the stream through and ends it when
 * the credential expires or a periodic re-check (websocket-recheck.ts, the same checks a request
 * makes) finds it revoked or no longer allowed; the client then reconnects and meets a fresh 401.
 */
import type { SocketGuard } from './websocket-relay'

export function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream')
}

/** `body`, ended at the credential's expiry or at the first failed re-check. */
export function guardEventStream(
  body: ReadableStream<Uint8Array>,
  guard: SocketGuard,
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let timer: ReturnType<typeof setTimeout> | undefined
  let ended = false
  const end = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (ended) return
    ended = true
    clearTimeout(timer)
    reader.cancel().catch(() => undefined)
    try {
      controller.close()
    } catch {
      // Already closed by the reader's end.
    }
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const schedule = () => {
        const untilExpiry =
          guard.expiresAtMs === undefined ? Number.POSITIVE_INFINITY : guard.expiresAtMs - Date.now()
        timer = setTimeout(
          async () => {
            if (ended) return
            if (guard.expiresAtMs !== undefined && Date.now() >= guard.expiresAtMs) return end(controller)
            try {
              await guard.recheck()
            } catch {
              // Revoked, no longer allowed, or the check itself failed: every check fails closed.
              return end(controller)
            }
            schedule()
          },
          Math.max(0, Math.min(guard.recheckIntervalMs, untilExpiry)),
        )
      }
      schedule()
    },
    async pull(controller) {
      const { done, value } = await reader.read()
      if (ended) return
      if (done) {
        ended = true
        clearTimeout(timer)
        controller.close()
        return
      }
      controller.enqueue(value)
    },
    cancel(reason) {
      ended = true
      clearTimeout(timer)
      return reader.cancel(reason)
    },
  })
}
