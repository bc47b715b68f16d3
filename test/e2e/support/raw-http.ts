import { connect } from 'node:net'

export interface RawResponse {
  status: number
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Record<string, string>
  body: string
}

/**
 * Sends one hand-written HTTP/1.1 request over a plain TCP socket and reads the response until the
 * server closes. fetch() and node:http would normalize or reject the request-target before it left
 * the process; the point here is to put exactly these bytes on the wire.
 */
export function rawRequest(
  port: number,
  head: string,
  host = '127.0.0.1',
  timeoutMs = 15_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host })
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no response within ${timeoutMs} ms`)))
    socket.on('connect', () =>
      socket.write(`${head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '')}\r\n\r\n`),
    )
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      socket.destroy()
      try {
        resolve(parseResponse(Buffer.concat(chunks).toString('latin1')))
      } catch (error) {
        reject(error)
      }
    }
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      // workerd keeps the connection open for a while despite `Connection: close`; stop reading
      // as soon as the response is complete instead of waiting for its idle timeout.
      if (isComplete(Buffer.concat(chunks).toString('latin1'))) finish()
    })
    socket.on('error', (error) => {
      if (!settled) {
        settled = true
        reject(error)
      }
    })
    socket.on('close', finish)
  })
}

function isComplete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return false
  const head = text.slice(0, end).toLowerCase()
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head)
  if (length) return Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1])
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) return text.endsWith('0\r\n\r\n')
  return false
}

function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let body = text.slice(end + 4)
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body)
  return { status: Number(match[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') }
}

function dechunk(text: string): string {
  let out = ''
  let at = 0
  while (at < text.length) {
    const lineEnd = text.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(text.slice(at, lineEnd), 16)
    if (!Number.isFinite(size) || size === 0) break
    out += text.slice(lineEnd + 2, lineEnd + 2 + size)
    at = lineEnd + 2 + size + 2
  }
  return out
}
