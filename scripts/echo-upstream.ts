/**
 * The bundled demo upstream: an echo API that answers every request with its method, path, query,
 * headers and body as JSON. Tests use the same server and its few knobs:
 *   ?__delay_ms=N     wait N ms before answering (timeouts)
 *   ?__status=N       answer with status N
 *   ?__redirect=URL   answer 302 to URL
 *   ?__bytes=N        answer with N bytes of streamed body
 *   ?__sse_ms=N       answer text/event-stream: an event every 100 ms for N ms (at most 60 s)
 *   PUT /__documents/<name>  {status?, headers?, body} (body: text) stores a canned answer that
 *                     GET /__documents/<name> then serves (a stand-in Client ID Metadata Document
 *                     host); GET /__document_hits/<name> says how many times it was served
 * Requests carrying `x-test-id` are recorded; `GET /__requests/<id>` returns them (tests assert
 * on exactly what the upstream received, or that it received nothing).
 * WebSockets echo every message. The text message `__close <code> <reason>` makes the upstream
 * close with that code and reason; the close of a socket whose handshake carried `x-test-id` is
 * recorded, and `GET /__ws_closes/<id>` returns `[{code, reason}]`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

export interface ReceivedRequest {
  method: string
  /** The raw request-target the upstream saw (path and query, unparsed). */
  url: string
  path: string
  query: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  body: string
  bodyBytes: number
}

export interface EchoServer {
  server: Server
  port: number
  origin: string
  close(): Promise<void>
}

const MAX_RECORDED_BODY = 64 * 1024

async function readBody(request: IncomingMessage): Promise<{ text: string; bytes: number }> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of request) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    if (bytes <= MAX_RECORDED_BODY) chunks.push(buffer)
  }
  return { text: Buffer.concat(chunks).toString('utf8'), bytes }
}

function splitTarget(url: string): { path: string; query: string } {
  const index = url.indexOf('?')
  return index < 0 ? { path: url, query: '' } : { path: url.slice(0, index), query: url.slice(index + 1) }
}

export async function startEchoServer(port = 0, host = '127.0.0.1'): Promise<EchoServer> {
  const recorded = new Map<string, ReceivedRequest[]>()
  const closes = new Map<string, { code: number; reason: string }[]>()
  const documents = new Map<string, { status: number; headers: Record<string, string>; body: string }>()
  const documentHits = new Map<string, number>()

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '/'
    const { path, query } = splitTarget(url)
    if (request.method === 'GET' && path.startsWith('/__ws_closes/')) {
      const id = decodeURIComponent(path.slice('/__ws_closes/'.length))
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(closes.get(id) ?? []))
      return
    }
    if (path.startsWith('/__documents/')) {
      const name = decodeURIComponent(path.slice('/__documents/'.length))
      if (request.method === 'PUT') {
        const canned = JSON.parse((await readBody(request)).text) as {
          status?: number
          headers?: Record<string, string>
          body: string
        }
        documents.set(name, {
          status: canned.status ?? 200,
          headers: canned.headers ?? {},
          body: canned.body,
        })
        response.writeHead(204)
        response.end()
        return
      }
      const canned = documents.get(name)
      documentHits.set(name, (documentHits.get(name) ?? 0) + 1)
      response.writeHead(canned?.status ?? 404, canned?.headers ?? {})
      response.end(canned?.body ?? '')
      return
    }
    if (request.method === 'GET' && path.startsWith('/__document_hits/')) {
      const name = decodeURIComponent(path.slice('/__document_hits/'.length))
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(documentHits.get(name) ?? 0))
      return
    }
    if (request.method === 'GET' && path.startsWith('/__requests/')) {
      const id = decodeURIComponent(path.slice('/__requests/'.length))
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(recorded.get(id) ?? []))
      return
    }
    const params = new URLSearchParams(query)
    const delay = Number(params.get('__delay_ms') ?? 0)
    const body = await readBody(request)
    const received: ReceivedRequest = {
      method: request.method ?? '',
      url,
      path,
      query,
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      body: body.text,
      bodyBytes: body.bytes,
    }
    const testId = request.headers['x-test-id']
    if (typeof testId === 'string') recorded.set(testId, [...(recorded.get(testId) ?? []), received])
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delay, 60_000)))
    const redirect = params.get('__redirect')
    if (redirect) {
      response.writeHead(302, { location: redirect })
      response.end()
      return
    }
    const bytes = Number(params.get('__bytes') ?? 0)
    if (bytes > 0) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' })
      const chunk = Buffer.alloc(64 * 1024, 0x61)
      let left = bytes
      while (left > 0) {
        const size = Math.min(left, chunk.length)
        if (!response.write(chunk.subarray(0, size)))
          await new Promise((resolve) => response.once('drain', resolve))
        left -= size
      }
      response.end()
      return
    }
    const sseMs = Math.min(Number(params.get('__sse_ms') ?? 0), 60_000)
    if (sseMs > 0) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      const started = Date.now()
      let sent = 0
      while (Date.now() - started < sseMs && !response.destroyed) {
        response.write(`data: ${sent++}\n\n`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      response.end()
      return
    }
    const status = Number(params.get('__status') ?? 200)
    response.writeHead(status >= 200 && status <= 599 ? status : 200, { 'content-type': 'application/json' })
    response.end(JSON.stringify(received))
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: String(error) }))
    })
  })
  // Longer than any client's idle pool, so a reused keep-alive connection is never one the
  // server has just closed (Node's 5 s default made the first request after a pause fail).
  server.keepAliveTimeout = 120_000
  const sockets = new WebSocketServer({ server })
  sockets.on('connection', (socket, request) => {
    socket.on('message', (data, isBinary) => {
      const close = isBinary ? null : /^__close (\d{4}) ?(.*)$/.exec(data.toString())
      if (close) {
        socket.close(Number(close[1]), close[2])
        return
      }
      socket.send(isBinary ? data : `echo:${data.toString()}|user:${request.headers['x-auth-user'] ?? ''}`)
    })
    const testId = request.headers['x-test-id']
    if (typeof testId === 'string') {
      socket.on('close', (code, reason) => {
        closes.set(testId, [...(closes.get(testId) ?? []), { code, reason: reason.toString() }])
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const actualPort = (server.address() as AddressInfo).port
  return {
    server,
    port: actualPort,
    origin: `http://${host}:${actualPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))
if (isMain) {
  const port = Number(process.env.ECHO_PORT ?? 8788)
  startEchoServer(port).then((echo) => console.log(`demo upstream (echo API) on ${echo.origin}`))
}
