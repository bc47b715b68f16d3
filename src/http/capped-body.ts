/**
 * Reads a body stream with a byte cap applied as chunks arrive: past the cap the stream is
 * cancelled and `undefined` returned, so a chunked body (no Content-Length) or one under a lying
 * Content-Length costs at most the cap plus one chunk, never the whole upload or download. Callers
 * turn `undefined` into their own error (413 for request bodies, a fetch error for JWKS).
 */
export async function readCappedBody(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0)
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      // Not awaited: a source slow to acknowledge the cancel must not hold the caller's answer.
      reader.cancel().catch(() => undefined)
      return undefined
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}
