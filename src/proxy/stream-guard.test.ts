import { describe, expect, it } from 'vitest'
import { guardEventStream } from './stream-guard'

/** A body that sends an event every 20 ms until cancelled, and records the cancel. */
function endlessEvents(): { body: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await scheduler.wait(20)
      controller.enqueue(new TextEncoder().encode(`data: ${sent++}\n\n`))
    },
    cancel() {
      cancelled = true
    },
  })
  return { body, cancelled: () => cancelled }
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.getReader()
  let chunks = 0
  for (;;) {
    const { done } = await reader.read()
    if (done) return chunks
    chunks++
  }
}

describe('guardEventStream', () => {
  it('ends the stream at the credential expiry and cancels the upstream', async () => {
    const source = endlessEvents()
    const guarded = guardEventStream(source.body, {
      expiresAtMs: Date.now() + 200,
      recheckIntervalMs: 60_000,
      recheck: async () => undefined,
    })
    expect(await drain(guarded)).toBeGreaterThan(0)
    expect(source.cancelled()).toBe(true)
  })

  it('ends the stream at the first failed re-check, and not before', async () => {
    const source = endlessEvents()
    let checks = 0
    const guarded = guardEventStream(source.body, {
      recheckIntervalMs: 50,
      recheck: async () => {
        checks++
        if (checks === 3) throw new Error('revoked')
      },
    })
    await drain(guarded)
    expect(checks).toBe(3)
    expect(source.cancelled()).toBe(true)
  })

  it('passes a stream that ends by itself through whole', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: 1\n\n'))
        controller.enqueue(new TextEncoder().encode('data: 2\n\n'))
        controller.close()
      },
    })
    const guarded = guardEventStream(body, { recheckIntervalMs: 60_000, recheck: async () => undefined })
    expect(await new Response(guarded).text()).toBe('data: 1\n\ndata: 2\n\n')
  })
})
