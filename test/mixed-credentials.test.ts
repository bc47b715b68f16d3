import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, createUser, login, PASSWORD } from './support/accounts'
import { createApiKey } from './support/api-keys'
import { attackerKeyPair, signCompact, validClaims, validHeader } from './support/forge'
import { fetchWithEnv, type Received, testId, upstreamReceived } from './support/gateway'

/**
 * Precedence is fixed: jwt, external_jwt, api_key, basic, session (whatever order a route lists
 * them in). Every credential the route accepts that the request presents is checked; one invalid
 * credential, or two that name different principals, reject the request.
 */
const ROUTES = [
  { path: '/api', upstream: 'UPSTREAM_URL' },
  { path: '/mixed', upstream: 'UPSTREAM_URL', credentials: ['jwt', 'api_key', 'basic'] },
  { path: '/reversed', upstream: 'UPSTREAM_URL', credentials: ['basic', 'api_key', 'jwt'] },
  {
    path: '/sources',
    upstream: 'UPSTREAM_URL',
    credentials: ['api_key'],
    api_key_sources: ['header', 'query', 'cookie'],
  },
]

interface Party {
  id: string
  token: string
  key: string
}

const parties: Record<'alice' | 'bob', Party> = {} as Record<'alice' | 'bob', Party>

beforeAll(async () => {
  for (const name of ['alice', 'bob'] as const) {
    const user = await createUser(`mixed-${name}`, ['editor'])
    const token = (await login(`mixed-${name}`)).access_token
    const key = (await createApiKey(token, { name: 'mixed', scopes: ['read'] })).key
    parties[name] = { id: user.id, token, key }
  }
})

function alice(): Party {
  return parties.alice
}

function bob(): Party {
  return parties.bob
}

async function send(
  path: string,
  headers: Record<string, string>,
): Promise<{ response: Response; body: Record<string, unknown>; received: Received[] }> {
  const id = testId()
  const response = await fetchWithEnv({ ROUTES }, path, {
    headers: { ...headers, 'x-test-id': id, 'cf-connecting-ip': '203.0.113.9' },
  })
  const body = (await response.json()) as Record<string, unknown>
  return { response, body, received: await upstreamReceived(id) }
}

/** RFC 7617 user-pass as is (the support helper form-encodes, as OAuth client auth requires). */
function basicAuth(username: string, password: string): { authorization: string } {
  return { authorization: `Basic ${btoa(`${username}:${password}`)}` }
}

async function forgedToken(sub: string): Promise<string> {
  const { privateKey } = await attackerKeyPair()
  return signCompact(
    validClaims({ sub, roles: ['admin'], scope: 'read write admin' }),
    validHeader(),
    privateKey,
  )
}

describe('credentials that disagree are rejected, never downgraded', () => {
  it('a valid API key plus a forged bearer token is 401 invalid_token, nothing forwarded', async () => {
    const { response, body, received } = await send('/api/x', {
      'x-api-key': alice().key,
      ...bearer(await forgedToken(alice().id)),
    })
    expect(response.status).toBe(401)
    expect(body.error).toBe('invalid_token')
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="invalid_token"',
    )
    expect(received).toEqual([])
  })

  it('a valid API key plus a malformed Authorization: Bearer header is 401', async () => {
    const { response, received } = await send('/api/x', {
      'x-api-key': alice().key,
      authorization: 'Bearer two tokens',
    })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('a valid bearer token plus a made-up API key is 401 invalid_credentials, nothing forwarded', async () => {
    const { response, body, received } = await send('/api/x', {
      ...bearer(alice().token),
      'x-api-key': `gwk_${'0'.repeat(16)}_${'A'.repeat(43)}`,
    })
    expect(response.status).toBe(401)
    expect(body.error).toBe('invalid_credentials')
    expect(received).toEqual([])
  })

  it('a valid bearer token plus a garbage X-API-Key is 401', async () => {
    const { response, received } = await send('/api/x', { ...bearer(alice().token), 'x-api-key': 'x' })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it("alice's bearer token plus bob's API key (both valid) is 401: two principals", async () => {
    const { response, body, received } = await send('/api/x', {
      ...bearer(alice().token),
      'x-api-key': bob().key,
    })
    expect(response.status).toBe(401)
    expect(body.error).toBe('invalid_token')
    expect(received).toEqual([])
  })

  it("alice's API key plus bob's Basic credentials is 401 on a route that takes both", async () => {
    const { response, received } = await send('/mixed/x', {
      'x-api-key': alice().key,
      ...basicAuth('mixed-bob', PASSWORD),
    })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it("alice's API key plus her Basic name with a wrong password is 401", async () => {
    const { response, received } = await send('/mixed/x', {
      'x-api-key': alice().key,
      ...basicAuth('mixed-alice', 'not her password'),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('Basic realm=')
    expect(received).toEqual([])
  })

  it('two Authorization headers (Bearer and Basic) are 401, not one picked', async () => {
    const headers = new Headers({ 'x-test-id': testId() })
    headers.append('authorization', `Bearer ${alice().token}`)
    headers.append('authorization', basicAuth('mixed-alice', PASSWORD).authorization)
    const response = await fetchWithEnv({ ROUTES }, '/mixed/x', { headers })
    expect(response.status).toBe(401)
    expect(await upstreamReceived(headers.get('x-test-id') ?? '')).toEqual([])
  })

  it('an X-API-Key and a different key in the query string on a route that reads both is 401', async () => {
    const { response, received } = await send(`/sources/x?api_key=${bob().key}`, { 'x-api-key': alice().key })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('a valid X-API-Key and a made-up key in a cookie on a route that reads both is 401', async () => {
    const { response, received } = await send('/sources/x', {
      'x-api-key': alice().key,
      cookie: `api_key=gwk_${'1'.repeat(16)}_${'B'.repeat(43)}`,
    })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })
})

describe('credentials that agree: a fixed, documented precedence', () => {
  it('a bearer token and an API key of the same user pass as jwt (the first in precedence)', async () => {
    const { response, received } = await send('/api/x', {
      ...bearer(alice().token),
      'x-api-key': alice().key,
    })
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.headers['x-auth-method']).toBe('jwt')
    expect(seen.headers['x-auth-user-id']).toBe(alice().id)
    // The token's scopes, not the narrower key's: the principal is the first credential's.
    expect(seen.headers['x-auth-scopes']).toBe('read write')
    expect(seen.headers['x-api-key']).toBeUndefined()
  })

  it('an API key and Basic credentials of the same user pass as api_key', async () => {
    const { response, received } = await send('/mixed/x', {
      'x-api-key': alice().key,
      ...basicAuth('mixed-alice', PASSWORD),
    })
    expect(response.status).toBe(200)
    expect((received[0] as Received).headers['x-auth-method']).toBe('api_key')
  })

  it("the route's listing order does not change the precedence", async () => {
    const { response, received } = await send('/reversed/x', {
      'x-api-key': alice().key,
      ...basicAuth('mixed-alice', PASSWORD),
    })
    expect(response.status).toBe(200)
    expect((received[0] as Received).headers['x-auth-method']).toBe('api_key')
  })

  it('the same key in the header and the query passes, and neither copy reaches the upstream', async () => {
    const { response, received } = await send(`/sources/x?api_key=${alice().key}&page=2`, {
      'x-api-key': alice().key,
    })
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.query).toBe('page=2')
    expect([seen.url, ...seen.rawHeaders].join('\n')).not.toContain(alice().key)
  })
})
