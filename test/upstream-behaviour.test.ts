import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from './support/gateway'

interface ErrorBody {
  error: string
  error_description: string
  request_id: string
}

async function expectGatewayError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/json')
  const body = (await response.json()) as ErrorBody
  expect(body.error).toBe(code)
  expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/)
  expect(response.headers.get('x-request-id')).toBe(body.request_id)
  return body
}

describe('an unreachable upstream', () => {
  it('answers 502 upstream_unavailable when nothing listens on the upstream port', async () => {
    // Port 9 (discard) has no listener on loopback: the connection is refused.
    const response = await fetchWithEnv({ UPSTREAM_URL: 'http://127.0.0.1:9' }, '/api/public/x')
    const body = await expectGatewayError(response, 502, 'upstream_unavailable')
    expect(body.error_description).not.toContain('127.0.0.1')
  })
})

describe('a slow upstream', () => {
  it('answers 504 upstream_timeout when the upstream takes longer than the route’s timeout_ms', async () => {
    const routes = [{ path: '/api/public', upstream: 'UPSTREAM_URL', access: 'public', timeout_ms: 300 }]
    const started = Date.now()
    const response = await fetchWithEnv({ ROUTES: routes }, '/api/public/slow?__delay_ms=2000')
    await expectGatewayError(response, 504, 'upstream_timeout')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('waits for an upstream that answers within timeout_ms', async () => {
    const routes = [{ path: '/api/public', upstream: 'UPSTREAM_URL', access: 'public', timeout_ms: 2000 }]
    const response = await fetchWithEnv({ ROUTES: routes }, '/api/public/slow?__delay_ms=200')
    expect(response.status).toBe(200)
  })
})

describe('upstream responses pass through unchanged', () => {
  it('a 302 from the upstream reaches the client with its Location, not followed by the gateway', async () => {
    const id = testId()
    const response = await gatewayFetch('/api/public/login?__redirect=%2Fapi%2Fpublic%2Felsewhere', {
      headers: { 'x-test-id': id },
      redirect: 'manual',
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/api/public/elsewhere')
    // Followed, the upstream would have seen a second request.
    expect((await upstreamReceived(id)).map((request) => request.path)).toEqual(['/api/public/login'])
  })

  it('a 500 from the upstream keeps its status and body instead of a gateway error', async () => {
    const id = testId()
    const response = await gatewayFetch('/api/public/broken?__status=500', { headers: { 'x-test-id': id } })
    expect(response.status).toBe(500)
    const body = (await response.json()) as Record<string, unknown>
    expect(body.error).toBeUndefined()
    expect(body).toMatchObject({ method: 'GET', url: '/api/public/broken?__status=500' })
    // The upstream's own response, as it is: no X-Request-Id unless SETTINGS.response_request_id.
    expect(response.headers.get('x-request-id')).toBeNull()
  })

  it('a 404 from the upstream is the upstream’s, not a gateway not_found', async () => {
    const response = await gatewayFetch('/api/public/missing?__status=404')
    expect(response.status).toBe(404)
    expect(((await response.json()) as Record<string, unknown>).path).toBe('/api/public/missing')
  })
})

describe('request bodies are streamed to the upstream', () => {
  it('a ReadableStream body sent in several chunks arrives whole', async () => {
    const id = testId()
    const chunks = ['first chunk|', 'second chunk|', 'third chunk|', 'last']
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
        controller.close()
      },
    })
    const response = await gatewayFetch('/api/public/upload', {
      method: 'POST',
      headers: { 'x-test-id': id, 'content-type': 'text/plain' },
      body,
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.body).toBe(chunks.join(''))
    expect(received?.bodyBytes).toBe(chunks.join('').length)
  })

  it('a 5 MB request body arrives with every byte', async () => {
    const id = testId()
    const size = 5 * 1024 * 1024
    const response = await gatewayFetch('/api/public/big-upload', {
      method: 'POST',
      headers: { 'x-test-id': id, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(size).fill(0x62),
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.bodyBytes).toBe(size)
  })

  it('a 5 MB response body reaches the client with every byte', async () => {
    const size = 5 * 1024 * 1024
    const response = await gatewayFetch(`/api/public/big-download?__bytes=${size}`)
    expect(response.status).toBe(200)
    const bytes = new Uint8Array(await response.arrayBuffer())
    expect(bytes.byteLength).toBe(size)
    expect(bytes[0]).toBe(0x61)
    expect(bytes[size - 1]).toBe(0x61)
  })
})

describe('methods and query strings are forwarded exactly', () => {
  it.each(['PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS'])(
    'a %s reaches the upstream as %s',
    async (method) => {
      const id = testId()
      const response = await gatewayFetch('/api/public/item', {
        method,
        headers: { 'x-test-id': id },
        body: method === 'OPTIONS' ? undefined : '{"a":1}',
      })
      expect(response.status).toBe(200)
      const [received] = await upstreamReceived(id)
      expect(received?.method).toBe(method)
      if (method !== 'OPTIONS') expect(received?.body).toBe('{"a":1}')
    },
  )

  it('a HEAD reaches the upstream as HEAD with no body in the response', async () => {
    const id = testId()
    const response = await gatewayFetch('/api/public/item', { method: 'HEAD', headers: { 'x-test-id': id } })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('')
    expect((await upstreamReceived(id))[0]?.method).toBe('HEAD')
  })

  it('the query "?a=1&a=2&b=%2F&c" is forwarded byte for byte', async () => {
    const id = testId()
    await gatewayFetch('/api/public/q?a=1&a=2&b=%2F&c', { headers: { 'x-test-id': id } })
    const [received] = await upstreamReceived(id)
    expect(received?.url).toBe('/api/public/q?a=1&a=2&b=%2F&c')
  })

  it('a query with encoded separators and an empty value is not re-encoded or decoded', async () => {
    const id = testId()
    await gatewayFetch('/api/public/q?x=%26y%3D1&empty=&plus=a+b&pct=%25', { headers: { 'x-test-id': id } })
    const [received] = await upstreamReceived(id)
    expect(received?.query).toBe('x=%26y%3D1&empty=&plus=a+b&pct=%25')
  })
})

describe('WebSocket through the gateway', () => {
  it('a public WebSocket upgrade is proxied and echoes messages', async () => {
    const id = testId()
    const response = await SELF.fetch('http://gateway.test/api/public/ws', {
      headers: { Upgrade: 'websocket', 'x-test-id': id, 'X-Auth-User': 'root-spoof' },
    })
    expect(response.status).toBe(101)
    // The upstream's handshake as it is (test/request-ids.test.ts: with SETTINGS.response_request_id).
    expect(response.headers.get('x-request-id')).toBeNull()
    const socket = response.webSocket
    if (!socket) throw new Error('no webSocket on the 101 response')
    socket.accept()
    const message = new Promise<string>((resolve, reject) => {
      socket.addEventListener('message', (event) => resolve(String(event.data)))
      socket.addEventListener('close', () => reject(new Error('closed before a message')))
    })
    socket.send('hello')
    // The echo upstream reports the X-Auth-User it received: the spoofed one must not be there.
    expect(await message).toBe('echo:hello|user:')
    socket.close(1000, 'done')
  })
})
