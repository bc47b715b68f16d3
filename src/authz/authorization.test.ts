import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { createApiKey } from '../../test/support/api-keys'
import { attackerKeyPair, signCompact, validClaims, validHeader } from '../../test/support/forge'
import { fetchWithEnv, type Received, testId, upstreamReceived } from '../../test/support/gateway'

const WRITE = { scopes: ['write'] }
const ROUTES = [
  {
    path: '/docs',
    upstream: 'UPSTREAM_URL',
    scopes: ['read'],
    method_rules: { POST: WRITE, PUT: WRITE, PATCH: WRITE, DELETE: WRITE },
  },
  { path: '/editorial', upstream: 'UPSTREAM_URL', roles: ['editor'] },
  { path: '/ops', upstream: 'UPSTREAM_URL', roles: ['admin'] },
  { path: '/staff', upstream: 'UPSTREAM_URL', roles: ['admin', 'auditor'] },
  { path: '/rw', upstream: 'UPSTREAM_URL', scopes: ['read', 'write'] },
  { path: '/keys-only', upstream: 'UPSTREAM_URL', credentials: ['api_key'] },
  { path: '/tokens-only', upstream: 'UPSTREAM_URL', credentials: ['jwt'] },
]

type Who = 'anonymous' | 'user' | 'editor' | 'admin' | 'auditor'
const tokens: Partial<Record<Who, string>> = {}

beforeAll(async () => {
  for (const who of ['user', 'editor', 'admin', 'auditor'] as const) {
    await createUser(`authz-${who}`, [who])
    tokens[who] = (await login(`authz-${who}`)).access_token
  }
})

function credentialsOf(who: Who): Record<string, string> {
  const token = tokens[who]
  return who === 'anonymous' || !token ? {} : bearer(token)
}

interface Outcome {
  response: Response
  body: Record<string, unknown>
  received: Received[]
}

async function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  overrides: Record<string, unknown> = {},
): Promise<Outcome> {
  const id = testId()
  const response = await fetchWithEnv({ ROUTES, ...overrides }, path, {
    method,
    headers: { ...headers, 'x-test-id': id },
    body: method === 'GET' || method === 'HEAD' ? undefined : 'payload',
  })
  const text = await response.text()
  return { response, body: text ? JSON.parse(text) : {}, received: await upstreamReceived(id) }
}

describe('the decision table: role hierarchy, method overrides, scopes', () => {
  it.each<[Who, string, string, number, string | null]>([
    // Method overrides: GET needs read, writing methods need write.
    ['user', 'GET', '/docs/1', 200, null],
    ['user', 'HEAD', '/docs/1', 200, null],
    ['user', 'POST', '/docs', 403, 'insufficient_scope'],
    ['user', 'PUT', '/docs/1', 403, 'insufficient_scope'],
    ['user', 'PATCH', '/docs/1', 403, 'insufficient_scope'],
    ['user', 'DELETE', '/docs/1', 403, 'insufficient_scope'],
    ['editor', 'GET', '/docs/1', 200, null],
    ['editor', 'POST', '/docs', 200, null],
    ['editor', 'PUT', '/docs/1', 200, null],
    ['editor', 'PATCH', '/docs/1', 200, null],
    ['editor', 'DELETE', '/docs/1', 200, null],
    ['admin', 'DELETE', '/docs/1', 200, null],
    ['auditor', 'GET', '/docs/1', 403, 'insufficient_scope'],
    ['anonymous', 'GET', '/docs/1', 401, 'invalid_token'],
    // The hierarchy admin > editor > user, inherited downward only.
    ['user', 'GET', '/editorial', 403, 'forbidden'],
    ['editor', 'GET', '/editorial', 200, null],
    ['admin', 'GET', '/editorial', 200, null],
    ['editor', 'GET', '/ops', 403, 'forbidden'],
    ['user', 'GET', '/ops', 403, 'forbidden'],
    ['admin', 'GET', '/ops', 200, null],
    // Roles are any-of.
    ['auditor', 'GET', '/staff', 200, null],
    ['admin', 'GET', '/staff', 200, null],
    ['editor', 'GET', '/staff', 403, 'forbidden'],
    // Scopes are all-of.
    ['user', 'GET', '/rw', 403, 'insufficient_scope'],
    ['editor', 'GET', '/rw', 200, null],
  ])('%s %s %s → %i %s', async (who, method, path, status, error) => {
    const { response, body, received } = await send(method, path, credentialsOf(who))
    expect(response.status).toBe(status)
    if (error === null) {
      expect(received).toHaveLength(1)
      expect((received[0] as Received).method).toBe(method)
      expect((received[0] as Received).headers['x-auth-method']).toBe('jwt')
    } else {
      if (method !== 'HEAD') expect(body.error).toBe(error)
      expect(received).toEqual([])
    }
  })
})

describe('401 and 403 carry different bodies and challenges', () => {
  it('no credential: 401, Bearer challenge without an error attribute (RFC 6750 §3.1)', async () => {
    const { response, body } = await send('GET', '/docs/1', {})
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="edge-auth-gateway"')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(body).toEqual({
      error: 'invalid_token',
      error_description: expect.any(String),
      request_id: response.headers.get('x-request-id'),
    })
  })

  it('a forged token claiming admin: 401 error="invalid_token", never 403', async () => {
    const { privateKey } = await attackerKeyPair()
    const forged = await signCompact(
      validClaims({ roles: ['admin'], scope: 'read write admin' }),
      validHeader(),
      privateKey,
    )
    const { response, body, received } = await send('GET', '/ops/x', bearer(forged))
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="invalid_token"',
    )
    expect(body.error).toBe('invalid_token')
    expect(JSON.stringify(body)).not.toContain(forged)
    expect(received).toEqual([])
  })

  it('a valid credential without the scope: 403 insufficient_scope naming the scope it needs', async () => {
    const { response, body } = await send('POST', '/docs', credentialsOf('user'))
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="insufficient_scope", scope="write"',
    )
    expect(body).toEqual({
      error: 'insufficient_scope',
      error_description: 'This route requires the scope(s): write.',
      request_id: response.headers.get('x-request-id'),
    })
  })

  it('all-of scopes: the challenge names every scope the route needs', async () => {
    const { response } = await send('GET', '/rw', credentialsOf('user'))
    expect(response.headers.get('www-authenticate')).toContain('scope="read write"')
  })

  it('a valid credential without the role: 403 forbidden naming the roles, no challenge', async () => {
    const { response, body } = await send('GET', '/ops/x', credentialsOf('editor'))
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toBeNull()
    expect(body).toEqual({
      error: 'forbidden',
      error_description: 'This route requires one of the roles: admin.',
      request_id: response.headers.get('x-request-id'),
    })
  })

  it('an API key without the scope gets the same 403 as a token', async () => {
    const key = await createApiKey(tokens.user ?? '', { name: 'reader' })
    const { response, body, received } = await send('PATCH', '/docs/1', { 'x-api-key': key.key })
    expect(response.status).toBe(403)
    expect(body.error).toBe('insufficient_scope')
    expect(received).toEqual([])
  })
})

describe('method overrides cannot be sidestepped', () => {
  it('GET with X-HTTP-Method-Override: DELETE is judged and forwarded as GET, without the override', async () => {
    const { response, received } = await send('GET', '/docs/1', {
      ...credentialsOf('user'),
      'x-http-method-override': 'DELETE',
    })
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.method).toBe('GET')
    expect(seen.headers['x-http-method-override']).toBeUndefined()
  })

  // Fetch normalizes only DELETE, GET, HEAD, OPTIONS, POST and PUT; workerd also upper-cases
  // "patch". This pins that assumption: were it to change, the PATCH rule would be skipped.
  it('a lower-case "patch" is held to the PATCH rule, not the weaker route rule', async () => {
    const { response, received } = await send('patch', '/docs/1', credentialsOf('user'))
    expect(response.status).toBe(403)
    expect(received).toEqual([])
  })
})

describe('the route decides which credential kinds count', () => {
  it('a valid access token is not a credential on an API-key-only route (401)', async () => {
    const { response, received } = await send('GET', '/keys-only/x', credentialsOf('admin'))
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('a valid API key is not a credential on a token-only route (401), and is accepted where keys are', async () => {
    const key = await createApiKey(tokens.editor ?? '', { name: 'kinds' })
    const refused = await send('GET', '/tokens-only/x', { 'x-api-key': key.key })
    expect(refused.response.status).toBe(401)
    expect(refused.received).toEqual([])
    const accepted = await send('GET', '/keys-only/x', { 'x-api-key': key.key })
    expect(accepted.response.status).toBe(200)
    expect((accepted.received[0] as Received).headers['x-auth-method']).toBe('api_key')
  })
})

describe('the role hierarchy is configuration', () => {
  const settings = env.SETTINGS as Record<string, unknown>

  it('a configured owner > admin lets an owner through an admin route', async () => {
    await createUser('authz-owner', ['owner'])
    const owner = (await login('authz-owner')).access_token
    const custom = { ...settings, role_hierarchy: { owner: ['admin'], admin: ['editor'], editor: ['user'] } }
    expect((await send('GET', '/ops/x', bearer(owner), { SETTINGS: custom })).response.status).toBe(200)
    expect((await send('GET', '/editorial', bearer(owner), { SETTINGS: custom })).response.status).toBe(200)
    expect((await send('GET', '/ops/x', bearer(owner))).response.status).toBe(403)
  })

  it('without admin > editor in the hierarchy an admin is refused an editor route', async () => {
    const flat = { ...settings, role_hierarchy: {} }
    const { response, received } = await send('GET', '/editorial', credentialsOf('admin'), { SETTINGS: flat })
    expect(response.status).toBe(403)
    expect(received).toEqual([])
  })
})
