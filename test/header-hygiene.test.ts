import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { fetchWithEnv, gatewayFetch, type Received, testId, upstreamReceived } from './support/gateway'

interface Forwarded {
  response: Response
  received: Received
  /** Every header value the upstream saw, raw, in one string (for "this value never arrived"). */
  rawValues: string
}

/** Sends the headers to the public route and returns what the real upstream received. */
async function sendPublic(headers: Headers | Record<string, string>): Promise<Forwarded> {
  const id = testId()
  const outgoing = new Headers(headers)
  outgoing.set('x-test-id', id)
  const response = await gatewayFetch('/api/public/headers', { headers: outgoing })
  expect(response.status).toBe(200)
  await response.arrayBuffer()
  const [received, ...more] = await upstreamReceived(id)
  expect(more).toEqual([])
  if (!received) throw new Error('the upstream received nothing')
  const rawValues = received.rawHeaders.filter((_, index) => index % 2 === 1).join('\n')
  return { response, received, rawValues }
}

function rawNames(received: Received): string[] {
  return received.rawHeaders.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase())
}

describe('spoofed identity headers never reach the upstream', () => {
  it.each([
    'X-Auth-User',
    'X_Auth_User',
    'x.auth.user',
    'X-Auth-User-Id',
    'X-Auth-Roles',
    'X-Auth-Scopes',
    'X-Auth-Assertion',
    'X-Forwarded-User',
    'X-Forwarded-Email',
    'X-Forwarded-Groups',
    'Remote-User',
    'Remote_User',
  ])('a client-sent %s: root is dropped', async (name) => {
    const { received, rawValues } = await sendPublic({ [name]: 'root-spoof' })
    expect(rawNames(received)).not.toContain(name.toLowerCase())
    expect(rawValues).not.toContain('root-spoof')
    expect(received.headers['x-auth-method']).toBe('none')
  })

  it('a client-sent X-Auth-Method: jwt becomes none', async () => {
    const { received } = await sendPublic({ 'X-Auth-Method': 'jwt' })
    expect(received.headers['x-auth-method']).toBe('none')
  })

  it('two client-sent X-Auth-User headers are both dropped', async () => {
    const headers = new Headers()
    headers.append('X-Auth-User', 'alice-spoof')
    headers.append('X-Auth-User', 'root-spoof')
    const { received, rawValues } = await sendPublic(headers)
    expect(received.headers['x-auth-user']).toBeUndefined()
    expect(rawValues).not.toMatch(/alice-spoof|root-spoof/)
  })

  it('a public route gets X-Auth-Method none and no identity headers', async () => {
    const { received } = await sendPublic({})
    expect(received.headers['x-auth-method']).toBe('none')
    for (const name of ['x-auth-user-id', 'x-auth-user', 'x-auth-roles', 'x-auth-scopes', 'x-auth-assertion'])
      expect(received.headers[name]).toBeUndefined()
  })
})

describe("other auth proxies' identity headers never reach the upstream", () => {
  it.each([
    ['Authelia', ['Remote-Groups', 'Remote-Email', 'Remote-Name', 'Remote_Email', 'remote.groups']],
    [
      'the Kubernetes front proxy',
      ['X-Remote-User', 'X-Remote-Group', 'X-Remote-Extra-Scopes', 'X_Remote_User', 'x.remote.extra.scopes'],
    ],
    ['the Grafana auth proxy', ['X-WEBAUTH-USER', 'X-Webauth-Email', 'x.webauth.user', 'X_WEBAUTH_ROLE']],
    [
      'oauth2-proxy',
      [
        'X-Auth-Request-Email',
        'X-Auth-Request-User',
        'X_Auth_Request_Groups',
        'X-Forwarded-Preferred-Username',
        'x.forwarded.preferred.username',
      ],
    ],
    ['Pomerium', ['X-Pomerium-Jwt-Assertion', 'X-Pomerium-Claim-Email', 'x_pomerium_claim_groups']],
  ] as const)('headers of %s, sent in several spellings, are all dropped', async (_proxy, names) => {
    const headers = Object.fromEntries(names.map((name, index) => [name, `root-spoof-${index}`]))
    const { received, rawValues } = await sendPublic({ ...headers, 'X-Kept': 'kept' })
    for (const name of names) expect(rawNames(received)).not.toContain(name.toLowerCase())
    expect(rawValues).not.toContain('root-spoof')
    expect(received.headers['x-kept']).toBe('kept')
  })
})

describe('site-specific identity headers (SETTINGS.strip_request_headers)', () => {
  const ROUTES = [{ path: '/api/public', upstream: 'UPSTREAM_URL', access: 'public' }]

  async function sendWithStripList(list: string[] | undefined, headers: Record<string, string>) {
    const id = testId()
    const settings = { ...(env.SETTINGS as Record<string, unknown>), strip_request_headers: list }
    const response = await fetchWithEnv({ ROUTES, SETTINGS: settings }, '/api/public/x', {
      headers: { ...headers, 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    if (!received) throw new Error('the upstream received nothing')
    return received
  }

  it.each(['X-Acme-User', 'x_acme_user', 'X.Acme.User', 'X-ACME-USER'])(
    'a listed X-Acme-User sent as %s is dropped, other headers pass',
    async (name) => {
      const received = await sendWithStripList(['X-Acme-User'], {
        [name]: 'root-spoof',
        'X-Acme-Theme': 'dark',
      })
      expect(JSON.stringify(received.rawHeaders)).not.toContain('root-spoof')
      expect(received.headers['x-acme-theme']).toBe('dark')
    },
  )

  it('without the setting the same header is forwarded (the list is what removes it)', async () => {
    const received = await sendWithStripList(undefined, { 'X-Acme-User': 'alice' })
    expect(received.headers['x-acme-user']).toBe('alice')
  })

  it('a name that is not a header token is a configuration error (503), never forwarded', async () => {
    const id = testId()
    const settings = { ...(env.SETTINGS as Record<string, unknown>), strip_request_headers: ['X Acme User'] }
    const response = await fetchWithEnv({ ROUTES, SETTINGS: settings }, '/api/public/x', {
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'gateway_misconfigured' })
    expect(await upstreamReceived(id)).toEqual([])
  })
})

describe('Connection-listed headers never reach the upstream', () => {
  it('"Connection: close, X-Auth-User" does not smuggle X-Auth-User through', async () => {
    const { received, rawValues } = await sendPublic({
      Connection: 'close, X-Auth-User',
      'X-Auth-User': 'root-spoof',
    })
    expect(received.headers['x-auth-user']).toBeUndefined()
    expect(rawValues).not.toContain('root-spoof')
  })

  it('"Connection: x-secret" drops x-secret and keeps the other headers', async () => {
    const { received } = await sendPublic({
      Connection: 'x-secret',
      'X-Secret': 'hunter2',
      'X-Other': 'kept',
    })
    expect(received.headers['x-secret']).toBeUndefined()
    expect(received.headers['x-other']).toBe('kept')
  })
})

describe('forwarding headers are the gateway’s, not the client’s', () => {
  it.each([
    'X-Forwarded-For',
    'X-Forwarded-Host',
    'X-Forwarded-Proto',
    'X-Forwarded-Prefix',
    'X-Forwarded-Uri',
    'Forwarded',
  ])('a client-sent %s does not reach the upstream', async (name) => {
    const { rawValues } = await sendPublic({ [name]: 'spoofed.example' })
    expect(rawValues).not.toContain('spoofed.example')
  })

  it('X-Forwarded-For is CF-Connecting-IP, and a client-sent X-Forwarded-For chain is discarded', async () => {
    const { received } = await sendPublic({
      'CF-Connecting-IP': '203.0.113.7',
      'X-Forwarded-For': '6.6.6.6, 10.0.0.1',
    })
    expect(received.headers['x-forwarded-for']).toBe('203.0.113.7')
  })

  it('X-Forwarded-Proto and X-Forwarded-Host describe the request the gateway received', async () => {
    const { received } = await sendPublic({
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'evil.example',
    })
    expect(received.headers['x-forwarded-proto']).toBe('http')
    expect(received.headers['x-forwarded-host']).toBe('gateway.test')
  })

  it('X-Request-Id sent upstream is the gateway’s, whatever the client sent', async () => {
    const { response, received } = await sendPublic({ 'X-Request-Id': 'client-chosen' })
    expect(received.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    // The upstream's response goes back as it is (SETTINGS.response_request_id is off by default).
    expect(response.headers.get('x-request-id')).toBeNull()
  })

  it('with SETTINGS.response_request_id, the response carries the id the upstream was sent', async () => {
    const id = testId()
    const SETTINGS = { ...(env.SETTINGS as Record<string, unknown>), response_request_id: true }
    const response = await fetchWithEnv({ SETTINGS }, '/api/public/x', {
      headers: { 'X-Request-Id': 'client-chosen', 'x-test-id': id },
    })
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(response.headers.get('x-request-id')).toBe(received?.headers['x-request-id'])
  })
})

describe('method overrides cannot turn an authorized request into another', () => {
  it.each(['X-HTTP-Method-Override', 'X-Method-Override', 'X-HTTP-Method'])(
    'a GET with %s: DELETE reaches the upstream as a plain GET',
    async (name) => {
      const { received, rawValues } = await sendPublic({ [name]: 'DELETE' })
      expect(received.method).toBe('GET')
      expect(rawNames(received)).not.toContain(name.toLowerCase())
      expect(rawValues).not.toContain('DELETE')
    },
  )
})

describe('client credentials stay at the gateway', () => {
  it('X-API-Key is never forwarded', async () => {
    const { rawValues } = await sendPublic({ 'X-API-Key': 'gk_live_secret' })
    expect(rawValues).not.toContain('gk_live_secret')
  })

  it('Authorization is not forwarded by default', async () => {
    const { received } = await sendPublic({ Authorization: 'Basic YWxpY2U6cGFzc3dvcmQ=' })
    expect(received.headers.authorization).toBeUndefined()
  })

  it('Authorization is forwarded on a route that sets forward_authorization', async () => {
    const id = testId()
    const routes = [
      { path: '/api/public', upstream: 'UPSTREAM_URL', access: 'public', forward_authorization: true },
    ]
    const response = await fetchWithEnv({ ROUTES: routes }, '/api/public/x', {
      headers: { Authorization: 'Basic YWxpY2U6cGFzc3dvcmQ=', 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers.authorization).toBe('Basic YWxpY2U6cGFzc3dvcmQ=')
  })

  it('the gateway session cookie is stripped and the application cookies survive', async () => {
    const { received, rawValues } = await sendPublic({
      Cookie: 'theme=dark; __Host-gw_session=sess-secret; cart=42',
    })
    expect(received.headers.cookie).toBe('theme=dark; cart=42')
    expect(rawValues).not.toContain('sess-secret')
  })

  it('a gateway session cookie in a second Cookie header is stripped too', async () => {
    const headers = new Headers()
    headers.append('Cookie', 'theme=dark')
    headers.append('Cookie', '__Host-gw_session=sess-secret')
    const { received, rawValues } = await sendPublic(headers)
    expect(received.headers.cookie).toBe('theme=dark')
    expect(rawValues).not.toContain('sess-secret')
  })
})
