import { env } from 'cloudflare:test'
import { importJWK, type JWK, jwtVerify } from 'jose'
import { describe, expect, inject, it } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { createApiKey } from '../../test/support/api-keys'
import { type IdpKey, idpKey, jwksOf, signIdpToken } from '../../test/support/fake-idp'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'

// The IdP's keys are served by the loopback key server of global-setup-jwks.ts: the gateway fetches
// them for real, and the tests count those fetches.
const KEY_SERVER = inject('jwksOrigin')
const AUDIENCE = 'https://api.example.test'

interface TestIdp {
  name: string
  issuer: string
  key: IdpKey
  docId: string
  settings: Record<string, unknown>
  token(options?: Parameters<typeof signIdpToken>[3], audience?: string): Promise<string>
  hits(): Promise<number>
}

async function publish(docId: string, document: unknown): Promise<void> {
  const response = await fetch(`${KEY_SERVER}/docs/${docId}`, {
    method: 'PUT',
    body: JSON.stringify(document),
  })
  expect(response.status).toBe(204)
}

/** A fresh IdP per test (its own name, so no test sees another's cached keys). */
async function testIdp(
  options: {
    discovery?: boolean
    publish?: boolean
    /** Overrides of the issuer config's claim mapping. */
    mapping?: Record<string, unknown>
    /** Issuer config fields left out (to get the schema's defaults). */
    omit?: string[]
  } = {},
): Promise<TestIdp> {
  const suffix = crypto.randomUUID().slice(0, 8)
  const name = `idp-${suffix}`
  const issuer = `https://idp-${suffix}.example.test`
  const key = await idpKey('k1')
  const docId = `jwks-${suffix}`
  if (options.publish !== false) await publish(docId, jwksOf(key))
  let source: Record<string, string> = { jwks_url: `${KEY_SERVER}/docs/${docId}` }
  if (options.discovery) {
    await publish(`disc-${suffix}`, { issuer, jwks_uri: `${KEY_SERVER}/docs/${docId}` })
    source = { discovery_url: `${KEY_SERVER}/docs/disc-${suffix}` }
  }
  const settings: Record<string, unknown> = {
    name,
    issuer,
    ...source,
    audiences: [AUDIENCE],
    algorithms: ['ES256'],
    roles_claim: 'groups',
    scopes_claim: 'scp',
    role_map: { 'gw-admins': ['admin'], staff: ['user'] },
    allowed_scopes: ['read', 'write'],
    username_claim: 'email',
    ...options.mapping,
  }
  for (const field of options.omit ?? []) delete settings[field]
  return {
    name,
    issuer,
    key,
    docId,
    settings,
    token: (options = {}, audience = AUDIENCE) => signIdpToken(key, issuer, audience, options),
    hits: async () => ((await (await fetch(`${KEY_SERVER}/hits/${docId}`)).json()) as { hits: number }).hits,
  }
}

/** The gateway with routes that trust `idps` (our own tokens too on /ext, API keys on /ext/keyed). */
function throughAll(
  idps: TestIdp[],
  path: string,
  headers: Record<string, string>,
  id = testId(),
): Promise<Response> {
  const issuers = idps.map((idp) => idp.name)
  const routes = [
    { path: '/ext', upstream: 'UPSTREAM_URL', credentials: ['jwt', 'external_jwt'], issuers },
    { path: '/ext/keyed', upstream: 'UPSTREAM_URL', credentials: ['external_jwt', 'api_key'], issuers },
    // The shipped admin rule, opened to the external issuers.
    {
      path: '/api/admin',
      upstream: 'UPSTREAM_URL',
      roles: ['admin'],
      credentials: ['jwt', 'external_jwt'],
      issuers,
    },
    {
      path: '/ext/admin',
      upstream: 'UPSTREAM_URL',
      roles: ['admin'],
      credentials: ['external_jwt'],
      issuers,
    },
    {
      path: '/ext/write',
      upstream: 'UPSTREAM_URL',
      scopes: ['write'],
      credentials: ['external_jwt'],
      issuers,
    },
  ]
  const settings = {
    ...(env.SETTINGS as Record<string, unknown>),
    external_issuers: idps.map((idp) => idp.settings),
  }
  return fetchWithEnv({ ROUTES: routes, SETTINGS: settings }, path, {
    headers: { ...headers, 'x-test-id': id },
  })
}

function through(idp: TestIdp, path: string, token: string, id = testId()): Promise<Response> {
  return throughAll([idp], path, bearer(token), id)
}

async function expectRejected(response: Response, id: string, status: number, error: string): Promise<void> {
  expect(response.status).toBe(status)
  expect(await response.json()).toMatchObject({ error })
  expect(await upstreamReceived(id)).toEqual([])
}

describe('a token of a trusted external issuer', () => {
  it('is forwarded with X-Auth-Method external_jwt and the mapped identity', async () => {
    const idp = await testIdp()
    const token = await idp.token({
      claims: {
        sub: 'ext|42',
        email: 'alice@corp.test',
        groups: ['staff', 'gw-admins', 'all-staff'],
        scp: ['read', 'write'],
      },
    })
    const id = testId()
    const response = await through(idp, '/ext/things?x=1', token, id)
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers).toMatchObject({
      'x-auth-method': 'external_jwt',
      // Namespaced by the issuer's configured name, and that name on its own.
      'x-auth-user-id': `${idp.name}|ext|42`,
      'x-auth-issuer': idp.name,
      'x-auth-user': 'alice@corp.test',
      'x-auth-roles': 'user,admin',
      'x-auth-scopes': 'read write',
    })
    expect(received?.headers.authorization).toBeUndefined()
    // The assertion is ours, whatever signed the caller's token.
    const assertion = String(received?.headers['x-auth-assertion'])
    const jwks = (await (await fetchWithEnv({}, '/.well-known/jwks.json')).json()) as { keys: JWK[] }
    const verified = await jwtVerify(assertion, await importJWK(jwks.keys[0] as JWK, 'ES256'), {
      issuer: 'http://gateway.test',
    })
    expect(verified.payload).toMatchObject({
      sub: `${idp.name}|ext|42`,
      idp: idp.name,
      auth_method: 'external_jwt',
    })
    expect(await idp.hits()).toBe(1)
  })

  it('meets the route policy through role_map and scopes (admin route, scope route)', async () => {
    const idp = await testIdp()
    const admin = await idp.token({ claims: { groups: ['gw-admins'], scp: ['write'] } })
    const staff = await idp.token({ claims: { groups: ['staff'], scp: ['read'] } })
    expect((await through(idp, '/ext/admin/x', admin)).status).toBe(200)
    expect((await through(idp, '/ext/write/x', admin)).status).toBe(200)
    const id = testId()
    await expectRejected(await through(idp, '/ext/admin/x', staff, id), id, 403, 'forbidden')
    const scoped = testId()
    await expectRejected(await through(idp, '/ext/write/x', staff, scoped), scoped, 403, 'insufficient_scope')
  })

  it('works with keys found through a discovery document', async () => {
    const idp = await testIdp({ discovery: true })
    expect((await through(idp, '/ext/x', await idp.token())).status).toBe(200)
  })

  it("does not stop the gateway's own tokens on a route that also takes ours", async () => {
    const idp = await testIdp()
    await createUser('ext-route-own', ['user'])
    const { access_token } = await login('ext-route-own')
    const id = testId()
    expect((await through(idp, '/ext/x', access_token, id)).status).toBe(200)
    expect((await upstreamReceived(id))[0]?.headers['x-auth-method']).toBe('jwt')
    expect(await idp.hits()).toBe(0)
  })
})

describe('external identities are namespaced by issuer name', () => {
  it('two issuers naming the same sub reach the upstream as two different principals', async () => {
    const corp = await testIdp()
    const partner = await testIdp()
    const seen = []
    for (const idp of [corp, partner]) {
      const id = testId()
      const token = await idp.token({ claims: { sub: 'same-sub' } })
      expect((await throughAll([corp, partner], '/ext/x', bearer(token), id)).status).toBe(200)
      const [received] = await upstreamReceived(id)
      expect(received?.headers['x-auth-issuer']).toBe(idp.name)
      seen.push(received?.headers['x-auth-user-id'])
    }
    expect(seen).toEqual([`${corp.name}|same-sub`, `${partner.name}|same-sub`])
  })

  it("an external token whose sub is a local user's id, presented with that user's API key, is 401", async () => {
    const idp = await testIdp()
    const user = await createUser('ext-sub-collision', ['user'])
    const { key } = await createApiKey((await login('ext-sub-collision')).access_token, { name: 'collide' })
    const token = await idp.token({ claims: { sub: user.id } })
    // Each alone is fine, and names its own principal.
    const alone = testId()
    expect((await throughAll([idp], '/ext/keyed/x', bearer(token), alone)).status).toBe(200)
    expect((await upstreamReceived(alone))[0]?.headers['x-auth-user-id']).toBe(`${idp.name}|${user.id}`)
    expect((await throughAll([idp], '/ext/keyed/x', { 'x-api-key': key })).status).toBe(200)
    // Together they name two principals: refused, not merged into one.
    const id = testId()
    const response = await throughAll([idp], '/ext/keyed/x', { ...bearer(token), 'x-api-key': key }, id)
    await expectRejected(response, id, 401, 'invalid_token')
  })
})

describe('an external token grants only the roles and scopes the issuer config maps', () => {
  it('without role_map grants no roles, even with roles: ["admin"], and /api/admin refuses it', async () => {
    const idp = await testIdp({ mapping: { roles_claim: 'roles' }, omit: ['role_map'] })
    const token = await idp.token({ claims: { roles: ['admin'], groups: ['admin'] } })
    const id = testId()
    expect((await through(idp, '/ext/x', token, id)).status).toBe(200)
    expect((await upstreamReceived(id))[0]?.headers['x-auth-roles']).toBe('')
    const admin = testId()
    await expectRejected(await through(idp, '/api/admin/users', token, admin), admin, 403, 'forbidden')
  })

  it('drops scopes outside allowed_scopes, so a route needing one of them refuses the token', async () => {
    const idp = await testIdp({ mapping: { allowed_scopes: ['read'] } })
    const token = await idp.token({ claims: { scp: ['read', 'write', 'admin'] } })
    const id = testId()
    expect((await through(idp, '/ext/x', token, id)).status).toBe(200)
    expect((await upstreamReceived(id))[0]?.headers['x-auth-scopes']).toBe('read')
    const write = testId()
    await expectRejected(await through(idp, '/ext/write/x', token, write), write, 403, 'insufficient_scope')
  })

  it('without allowed_scopes grants no scopes at all', async () => {
    const idp = await testIdp({ omit: ['allowed_scopes'] })
    const id = testId()
    expect(
      (await through(idp, '/ext/x', await idp.token({ claims: { scp: ['read', 'write'] } }), id)).status,
    ).toBe(200)
    expect((await upstreamReceived(id))[0]?.headers['x-auth-scopes']).toBe('')
  })
})

describe('rejected external tokens are never forwarded', () => {
  it('a wrong audience answers 401 with a Bearer invalid_token challenge', async () => {
    const idp = await testIdp()
    const id = testId()
    const response = await through(idp, '/ext/x', await idp.token({}, 'https://other-api.example.test'), id)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="invalid_token"',
    )
    await expectRejected(response, id, 401, 'invalid_token')
  })

  it('an issuer the route does not trust answers 401 without any key fetch', async () => {
    const idp = await testIdp()
    const stranger = await signIdpToken(idp.key, 'https://stranger.example.test', AUDIENCE)
    const id = testId()
    await expectRejected(await through(idp, '/ext/x', stranger, id), id, 401, 'invalid_token')
    expect(await idp.hits()).toBe(0)
  })

  it('a flood of tokens with made-up kids costs one JWKS fetch', async () => {
    const idp = await testIdp()
    for (let i = 0; i < 20; i++) {
      const id = testId()
      const token = await idp.token({ header: { kid: crypto.randomUUID() } })
      await expectRejected(await through(idp, '/ext/x', token, id), id, 401, 'invalid_token')
    }
    expect(await idp.hits()).toBe(1)
  })

  it('an unreachable JWKS answers 503 jwks_unavailable', async () => {
    const idp = await testIdp({ publish: false })
    const id = testId()
    const response = await through(idp, '/ext/x', await idp.token(), id)
    expect(response.headers.get('retry-after')).toBe('30')
    await expectRejected(response, id, 503, 'jwks_unavailable')
    expect(await idp.hits()).toBe(1)
  })

  it('an IdP serving a broken JWKS answers 503, never forwarding', async () => {
    const idp = await testIdp({ publish: false })
    await publish(idp.docId, { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }] })
    const id = testId()
    await expectRejected(await through(idp, '/ext/x', await idp.token(), id), id, 503, 'jwks_unavailable')
  })
})
