import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login } from './support/accounts'
import { fetchWithEnv, GATEWAY, gatewayFetch, testId, UPSTREAM, upstreamReceived } from './support/gateway'

// X-Request-Id (CONTRACT "Errors"): on every response the gateway makes and every request it
// forwards; on a proxied upstream response only with SETTINGS.response_request_id = true, so that
// by default the upstream's response goes back without a copy. The id is CF-Ray when Cloudflare
// sends one.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const RAY = '8f1c2b3a4d5e6f70-SJC'

function settings(overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...(env.SETTINGS as Record<string, unknown>), ...overrides }
}

const WITH_ID = { SETTINGS: settings({ response_request_id: true }) }

/** A public request tagged for the echo upstream: the response and the id the upstream was sent. */
async function forwarded(
  through: (path: string, init: RequestInit) => Promise<Response>,
  headers: Record<string, string> = {},
): Promise<{ response: Response; sentUpstream: unknown }> {
  const id = testId()
  const response = await through('/api/public/ids', { headers: { ...headers, 'x-test-id': id } })
  expect(response.status).toBe(200)
  await response.arrayBuffer()
  const [received] = await upstreamReceived(id)
  return { response, sentUpstream: received?.headers['x-request-id'] }
}

describe('a proxied upstream response, by default', () => {
  it('carries no X-Request-Id of ours, while the upstream was sent one (the Worker entry)', async () => {
    const { response, sentUpstream } = await forwarded(gatewayFetch)
    expect(response.headers.get('x-request-id')).toBeNull()
    expect(sentUpstream).toMatch(UUID)
  })

  it('carries no X-Request-Id of ours through the Hono app either (createApp mounted in an app)', async () => {
    const { response, sentUpstream } = await forwarded((path, init) => fetchWithEnv({}, path, init))
    expect(response.headers.get('x-request-id')).toBeNull()
    expect(sentUpstream).toMatch(UUID)
  })

  it('still loses a Set-Cookie for a gateway cookie (an upstream cannot set the session), keeping the others', async () => {
    const name = `cookie-${testId()}`
    const canned = {
      headers: {
        'set-cookie': ['theme=dark; Path=/', '__Host-gw_session=planted; Path=/; Secure', 'gw_csrf=x'],
      },
      body: 'ok',
    }
    await fetch(`${UPSTREAM}/__documents/${name}`, { method: 'PUT', body: JSON.stringify(canned) })
    const routes = [{ path: '/__documents', upstream: 'UPSTREAM_URL', access: 'public' }]
    for (const overrides of [{ ROUTES: routes }, { ROUTES: routes, ...WITH_ID }]) {
      const response = await fetchWithEnv(overrides, `/__documents/${name}`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('ok')
      expect(response.headers.getAll('set-cookie')).toEqual(['theme=dark; Path=/'])
    }
  })

  it('keeps an upstream Set-Cookie of its own when no gateway cookie is among them', async () => {
    const name = `cookie-${testId()}`
    const canned = { headers: { 'set-cookie': ['a=1', 'b=2'] }, body: 'ok' }
    await fetch(`${UPSTREAM}/__documents/${name}`, { method: 'PUT', body: JSON.stringify(canned) })
    const routes = [{ path: '/__documents', upstream: 'UPSTREAM_URL', access: 'public' }]
    const response = await fetchWithEnv({ ROUTES: routes }, `/__documents/${name}`)
    expect(response.headers.getAll('set-cookie')).toEqual(['a=1', 'b=2'])
    expect(response.headers.get('x-request-id')).toBeNull()
  })
})

describe('SETTINGS.response_request_id = true', () => {
  it('adds the id the upstream was sent to the proxied response', async () => {
    const { response, sentUpstream } = await forwarded((path, init) => fetchWithEnv(WITH_ID, path, init))
    expect(response.headers.get('x-request-id')).toMatch(UUID)
    expect(response.headers.get('x-request-id')).toBe(sentUpstream)
  })

  it('adds it to an authenticated event stream, which the gateway guards', async () => {
    await createUser('ids-sse')
    const { access_token } = await login('ids-sse')
    const response = await fetchWithEnv(WITH_ID, '/api/stream?__sse_ms=300', {
      headers: bearer(access_token),
    })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    expect(response.headers.get('x-request-id')).toMatch(UUID)
    await response.arrayBuffer()
    const byDefault = await gatewayFetch('/api/stream?__sse_ms=300', { headers: bearer(access_token) })
    expect(byDefault.headers.get('content-type')).toContain('text/event-stream')
    expect(byDefault.headers.get('x-request-id')).toBeNull()
    await byDefault.arrayBuffer()
  })

  it('adds it to a WebSocket handshake (101), which carries none by default', async () => {
    for (const [overrides, expected] of [
      [{}, null],
      [WITH_ID, UUID],
    ] as const) {
      const response = await fetchWithEnv(overrides, '/api/public/ws', { headers: { upgrade: 'websocket' } })
      expect(response.status).toBe(101)
      if (expected) expect(response.headers.get('x-request-id')).toMatch(expected)
      else expect(response.headers.get('x-request-id')).toBeNull()
      response.webSocket?.accept()
      response.webSocket?.close(1000, 'done')
    }
  })
})

describe("the gateway's own responses carry the id whatever the setting", () => {
  it.each([
    ['a 401 of a proxied route', '/api/things'],
    ['a route table miss', '/nowhere'],
    ['the health endpoint', '/healthz'],
    ['the JWKS', '/.well-known/jwks.json'],
  ])('%s', async (_what, path) => {
    const response = await gatewayFetch(path)
    expect(response.headers.get('x-request-id')).toMatch(UUID)
  })

  it('a redirect to the login page of a session route', async () => {
    const response = await gatewayFetch('/app/page', { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(response.status).toBe(302)
    expect(response.headers.get('x-request-id')).toMatch(UUID)
  })
})

describe('CF-Ray as the request id', () => {
  it('a well-formed CF-Ray is the id: sent upstream, on the response with the setting, in an error body', async () => {
    const { response, sentUpstream } = await forwarded((path, init) => fetchWithEnv(WITH_ID, path, init), {
      'cf-ray': RAY,
    })
    expect(sentUpstream).toBe(RAY)
    expect(response.headers.get('x-request-id')).toBe(RAY)
    const refused = await gatewayFetch('/api/things', { headers: { 'cf-ray': RAY } })
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { request_id: string }).request_id).toBe(RAY)
    expect(refused.headers.get('x-request-id')).toBe(RAY)
  })

  it('a CF-Ray without its data centre is the id too', async () => {
    const { sentUpstream } = await forwarded(gatewayFetch, { 'cf-ray': '8f1c2b3a4d5e6f70' })
    expect(sentUpstream).toBe('8f1c2b3a4d5e6f70')
  })

  it.each([
    ['log-line injection', `${RAY} level=error user=root`],
    ['a JSON breaker', `${RAY}"}`],
    ['upper-case hex', '8F1C2B3A4D5E6F70-SJC'],
    ['a lower-case data centre', '8f1c2b3a4d5e6f70-sjc'],
    ['too long', `${'a'.repeat(64)}-SJC`],
    ['too short', '8f1c-SJC'],
    ['a four-letter suffix', '8f1c2b3a4d5e6f70-SJCX'],
    ['empty', ''],
  ])('a malformed CF-Ray (%s) is ignored for a random id', async (_attack, ray) => {
    const { sentUpstream } = await forwarded(gatewayFetch, { 'cf-ray': ray })
    expect(sentUpstream).toMatch(UUID)
    const refused = await SELF.fetch(`${GATEWAY}/api/things`, { headers: { 'cf-ray': ray } })
    expect(refused.headers.get('x-request-id')).toMatch(UUID)
    await refused.arrayBuffer()
  })
})
