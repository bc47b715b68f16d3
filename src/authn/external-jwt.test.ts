import { env } from 'cloudflare:test'
import { base64url, decodeProtectedHeader, SignJWT } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FakeIdp, type IdpKey, idpKey, jwksOf, signIdpToken } from '../../test/support/fake-idp'
import { parseConfig } from '../config/load'
import type { CredentialKind } from '../config/schema'
import type { CredentialInput, CredentialLoader } from '../credential-input'
import { GatewayError } from '../errors/gateway-error'
import { revokeAccessToken } from '../revocation/denylist'
import { revokeSubject } from '../sessions/revoke-subject'
import { JwksCache } from '../tokens/jwks-cache'
import { createExternalJwtLoader } from './external-jwt'

const IDP = 'https://idp.example.test/realms/main'
const AUDIENCE = 'https://api.example.test'
const OURS = 'http://gateway.test'

let key: IdpKey
let idp: FakeIdp
let load: CredentialLoader
let now: number
// KV writes the loader defers; awaited after each test so one test's JWKS never leaks into the next.
const pending: Promise<unknown>[] = []

function issuerConfig(overrides: Record<string, unknown> = {}) {
  return {
    name: 'corp',
    issuer: IDP,
    jwks_url: 'https://idp.example.test/jwks',
    audiences: [AUDIENCE, 'other-api'],
    algorithms: ['ES256', 'RS256'],
    roles_claim: 'realm_access.roles',
    scopes_claim: 'scope',
    role_map: { 'gw-admins': ['admin'], staff: ['user'] },
    allowed_scopes: ['read', 'write'],
    username_claim: 'preferred_username',
    ...overrides,
  }
}

function input(
  token: string | undefined,
  options: {
    credentials?: CredentialKind[]
    issuers?: string[]
    issuer?: Record<string, unknown>
    strict?: boolean
  } = {},
): CredentialInput {
  const parsed = parseConfig({
    ...env,
    ISSUER: OURS,
    SETTINGS: {
      external_issuers: [
        issuerConfig(options.issuer),
        issuerConfig({
          name: 'partner',
          issuer: 'https://partner.example.test',
          jwks_url: 'https://partner.example.test/jwks',
        }),
      ],
    },
    ROUTES: [
      { path: '/api', upstream: 'https://upstream.test', credentials: ['external_jwt'], issuers: ['corp'] },
    ],
  })
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'))
  const credentials = options.credentials ?? ['jwt', 'external_jwt']
  return {
    request: new Request(
      'https://gw.test/api',
      token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    ),
    env,
    config: parsed.config,
    credentials,
    apiKeySources: ['header'],
    apiKeyParam: 'api_key',
    issuers: options.issuers ?? ['corp'],
    strictRevocation: options.strict ?? false,
    waitUntil: (promise) => {
      pending.push(promise)
    },
  }
}

/** The token with extra header members (its signature no longer matches: these are refused before). */
function withHeader(signed: string, extra: Record<string, unknown>): string {
  const [header = '', ...rest] = signed.split('.')
  const decoded = JSON.parse(new TextDecoder().decode(base64url.decode(header))) as Record<string, unknown>
  return [base64url.encode(JSON.stringify({ ...decoded, ...extra })), ...rest].join('.')
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(error)}`)
  return error
}

async function invalid(promise: Promise<unknown>): Promise<string> {
  const error = await rejection(promise)
  expect(error.code).toBe('invalid_token')
  expect(error.status).toBe(401)
  expect(error.challenge).toEqual({ scheme: 'Bearer', error: 'invalid_token' })
  return error.message
}

function token(options: Parameters<typeof signIdpToken>[3] = {}, signer = key): Promise<string> {
  return signIdpToken(signer, IDP, AUDIENCE, options)
}

beforeEach(async () => {
  key = await idpKey('k1')
  idp = new FakeIdp(jwksOf(key))
  now = 1_900_000_000
  // A fresh cache per test (a fresh isolate), on a clock the test controls for the cooldown only.
  const cache = new JwksCache({ fetch: idp.fetch, now: () => now })
  load = createExternalJwtLoader(cache)
})

afterEach(async () => {
  await Promise.all(pending.splice(0))
  await env.KV.delete('jwks:corp')
  await env.KV.delete('jwks:partner')
})

describe('a valid external token', () => {
  it('yields an external_jwt principal with mapped roles, scopes and username', async () => {
    const jti = crypto.randomUUID()
    const signed = await token({
      claims: {
        sub: 'f:123',
        jti,
        scope: 'read write',
        preferred_username: 'alice@corp',
        realm_access: { roles: ['gw-admins', 'staff', 'offline_access'] },
      },
    })
    const principal = await load(input(signed))
    expect(principal).toMatchObject({
      method: 'external_jwt',
      id: 'corp|f:123',
      username: 'alice@corp',
      roles: ['admin', 'user'],
      scopes: ['read', 'write'],
      issuerName: 'corp',
      tokenId: jti,
    })
    expect(principal?.expiresAt).toBeGreaterThan(Date.now() / 1000)
  })

  it('is accepted for any configured audience and without jti or iat', async () => {
    const signed = await token({
      claims: { aud: ['unrelated', 'other-api'], jti: undefined, iat: undefined },
    })
    expect((await load(input(signed)))?.tokenId).toBeUndefined()
  })

  it('is verified once, then served from the verified-token cache (no second JWKS fetch)', async () => {
    const signed = await token()
    await load(input(signed))
    await load(input(signed))
    expect(idp.calls).toHaveLength(1)
  })
})

describe('the verified-token shortcut (a repeated token is not decoded again)', () => {
  it('a token verified on a route that trusts its issuer is refused on a route of the same config that does not', async () => {
    const signed = await token()
    const trusted = input(signed)
    expect((await load(trusted))?.id).toBe('corp|ext-user-1')
    expect(await invalid(load({ ...trusted, issuers: ['partner'] }))).toContain('not trusted on this route')
  })

  it('a token verified under one configuration is checked again under a new one (audience removed)', async () => {
    const signed = await token()
    expect(await load(input(signed))).toBeDefined()
    expect(await invalid(load(input(signed, { issuer: { audiences: ['other-api'] } })))).toBe(
      'The access token\'s "aud" claim is not acceptable.',
    )
  })

  it("a token verified before its key left the issuer's JWKS is verified again, and refused, after the refetch", async () => {
    const signed = await token()
    const first = input(signed)
    expect(await load(first)).toBeDefined()
    idp.jwks = jwksOf(await idpKey('k2'))
    now += 3_601 // past jwks_cache_seconds: the next request refetches the key set
    expect(await invalid(load(first))).toBe('The access token was not signed by a key of its issuer.')
  })
})

describe('external ids are namespaced by issuer name', () => {
  it('two issuers naming the same sub get different principal ids', async () => {
    const issuers = ['corp', 'partner']
    const fromCorp = await load(input(await token({ claims: { sub: 'same-sub' } }), { issuers }))
    const partnerToken = await signIdpToken(key, 'https://partner.example.test', AUDIENCE, {
      claims: { sub: 'same-sub' },
    })
    const fromPartner = await load(input(partnerToken, { issuers }))
    expect(fromCorp).toMatchObject({ id: 'corp|same-sub', issuerName: 'corp' })
    expect(fromPartner).toMatchObject({ id: 'partner|same-sub', issuerName: 'partner' })
  })

  it('keeps a sub that itself contains "|" (Auth0: auth0|abc) whole after the issuer name', async () => {
    const principal = await load(input(await token({ claims: { sub: 'auth0|abc' } })))
    expect(principal?.id).toBe('corp|auth0|abc')
  })

  it('a subject revocation of the namespaced id voids the external token', async () => {
    const sub = `revoked-${crypto.randomUUID()}`
    const signed = await token({ claims: { sub } })
    expect(await load(input(signed))).toBeDefined()
    await revokeSubject(env, `corp|${sub}`, 900)
    expect(await invalid(load(input(signed)))).toBe('The access token has been revoked.')
  })

  it('a subject revocation voids an external token that carries no jti (logout-all cannot be skipped)', async () => {
    const sub = `no-jti-${crypto.randomUUID()}`
    const signed = await token({ claims: { sub, jti: undefined, iat: Math.floor(Date.now() / 1000) - 5 } })
    expect(await load(input(signed))).toMatchObject({ id: `corp|${sub}` })
    await revokeSubject(env, `corp|${sub}`, 900)
    expect(await invalid(load(input(signed)))).toBe('The access token has been revoked.')
    expect(await invalid(load(input(signed, { strict: true })))).toBe('The access token has been revoked.')
  })

  it("a local user's revocation of the bare id (logout-all of a user whose id is the sub) leaves it alone", async () => {
    const sub = `local-${crypto.randomUUID()}`
    const signed = await token({ claims: { sub } })
    await revokeSubject(env, sub, 900)
    expect(await load(input(signed))).toMatchObject({ id: `corp|${sub}` })
  })
})

describe('which loader takes a token', () => {
  it('leaves requests without a bearer token alone', async () => {
    expect(await load(input(undefined))).toBeUndefined()
  })

  it("steps aside for the gateway's own tokens when the route accepts jwt", async () => {
    const ours = await signIdpToken(key, OURS, 'edge-auth-gateway')
    expect(await load(input(ours))).toBeUndefined()
    expect(idp.calls).toHaveLength(0)
  })

  it("refuses the gateway's own tokens on a route that accepts only external_jwt", async () => {
    const ours = await signIdpToken(key, OURS, 'edge-auth-gateway')
    expect(await invalid(load(input(ours, { credentials: ['external_jwt'] })))).toContain("gateway's own")
  })

  it('rejects an issuer nobody configured, without fetching anything', async () => {
    const signed = await signIdpToken(key, 'https://evil.example.test', AUDIENCE)
    expect(await invalid(load(input(signed)))).toBe("The access token's issuer is not trusted on this route.")
    expect(idp.calls).toHaveLength(0)
  })

  it('rejects a configured issuer that this route does not list', async () => {
    const signed = await signIdpToken(key, 'https://partner.example.test', AUDIENCE)
    expect(await invalid(load(input(signed)))).toContain('not trusted on this route')
  })

  it('matches the issuer exactly (a trailing slash is another issuer)', async () => {
    const signed = await signIdpToken(key, `${IDP}/`, AUDIENCE)
    expect(await invalid(load(input(signed)))).toContain('not trusted')
  })

  it('rejects a token without iss', async () => {
    const signed = await token({ claims: { iss: undefined } })
    expect(await invalid(load(input(signed)))).toBe('The access token has no issuer.')
  })
})

describe('attacks on the token', () => {
  it('rejects a wrong audience', async () => {
    const signed = await signIdpToken(key, IDP, 'https://other-api.example.test')
    expect(await invalid(load(input(signed)))).toBe('The access token\'s "aud" claim is not acceptable.')
  })

  it('rejects an HS256 token whose secret is the IdP public key, before loading any key', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk))
    const forged = await new SignJWT({ sub: 'mallory', aud: AUDIENCE, iss: IDP })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setExpirationTime('5m')
      .sign(secret)
    expect(await invalid(load(input(forged)))).toBe(
      'The access token algorithm is not accepted for its issuer.',
    )
    expect(idp.calls).toHaveLength(0)
  })

  it('rejects alg "none"', async () => {
    const signed = await token()
    const [, payload] = signed.split('.')
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', kid: 'k1' }))}.${payload}.AA`
    expect(await invalid(load(input(none)))).toContain('algorithm is not accepted')
  })

  it('rejects an algorithm the issuer config does not list, even with a matching key type', async () => {
    const signed = await token()
    expect(decodeProtectedHeader(signed).alg).toBe('ES256')
    expect(await invalid(load(input(signed, { issuer: { algorithms: ['RS256'] } })))).toContain('algorithm')
  })

  it.each([
    ['jku', 'https://attacker.test/jwks'],
    ['x5u', 'https://attacker.test/cert'],
    ['jwk', { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }],
    ['x5c', ['MIIB']],
    ['crit', ['exp']],
  ])('rejects a "%s" header member without fetching keys', async (member, value) => {
    const signed = withHeader(await token(), { [member]: value })
    expect(await invalid(load(input(signed)))).toBe(`The access token header must not contain "${member}".`)
    expect(idp.calls).toHaveLength(0)
  })

  it("rejects a token signed by another key under the IdP's kid", async () => {
    const attacker = await idpKey('k1')
    expect(await invalid(load(input(await token({}, attacker))))).toBe(
      'The access token signature is invalid.',
    )
  })

  it.each([
    ['expired', { expiresIn: -120 }, 'The access token has expired.'],
    ['without exp', { claims: { exp: undefined } }, 'The access token\'s "exp" claim is not acceptable.'],
    ['without sub', { claims: { sub: undefined } }, 'The access token\'s "sub" claim is not acceptable.'],
    ['issued in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 3600 } }, '"iat"'],
    ['not yet valid', { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }, '"nbf"'],
    ['with a non-string jti', { claims: { jti: 5 } }, '"jti"'],
    [
      'with CR LF in a role',
      { claims: { realm_access: { roles: ['staff\r\nX-Auth-Roles: admin'] } } },
      '"realm_access.roles"',
    ],
  ])('rejects a token %s', async (_name, options, message) => {
    expect(await invalid(load(input(await token(options))))).toContain(message)
  })

  it('accepts a token expired by less than the clock skew', async () => {
    expect(await load(input(await token({ expiresIn: -10 })))).toBeDefined()
  })

  it('rejects a token over 8 KiB before decoding it', async () => {
    const signed = await token({ claims: { pad: 'x'.repeat(8 * 1024) } })
    expect(await invalid(load(input(signed)))).toBe('The access token is too large.')
  })

  it('rejects a token that is not a compact JWS', async () => {
    expect(await invalid(load(input('a.b')))).toBe('The access token is malformed.')
    expect(await invalid(load(input('a.b.c')))).toBe('The access token is malformed.')
  })

  it('requires the configured typ when there is one (an ID token is not an access token)', async () => {
    const idToken = await token({ header: { typ: 'JWT' } })
    expect(await invalid(load(input(idToken, { issuer: { typ: 'at+jwt' } })))).toContain('"typ"')
    expect(await load(input(await token(), { issuer: { typ: 'at+jwt' } }))).toBeDefined()
  })

  it('applies our denylist to an external jti', async () => {
    const jti = crypto.randomUUID()
    const signed = await token({ claims: { jti } })
    expect(await load(input(signed))).toBeDefined()
    await revokeAccessToken(env, {
      jti,
      subject: 'ext-user-1',
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    })
    expect(await invalid(load(input(signed)))).toBe('The access token has been revoked.')
  })
})

describe('unknown kids and key rotation', () => {
  it('a flood of 100 tokens with random kids costs one JWKS fetch, and every one is rejected', async () => {
    for (let i = 0; i < 100; i++) {
      const signed = await token({ header: { kid: crypto.randomUUID() } })
      expect(await invalid(load(input(signed)))).toBe(
        'The access token was not signed by a key of its issuer.',
      )
    }
    expect(idp.calls).toHaveLength(1)
    now += 30
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const signed = await token({ header: { kid: crypto.randomUUID() } })
        await invalid(load(input(signed)))
      }),
    )
    expect(idp.calls).toHaveLength(2)
  })

  it('accepts a token signed with a newly rotated key after one refetch', async () => {
    expect(await load(input(await token()))).toBeDefined()
    const next = await idpKey('k2')
    idp.jwks = jwksOf(key, next)
    now += 30
    expect((await load(input(await token({}, next))))?.id).toBe('corp|ext-user-1')
    expect(idp.calls).toHaveLength(2)
  })

  it('answers 503 jwks_unavailable when no keys can be fetched', async () => {
    idp.respond = () => Promise.reject(new TypeError('connection refused'))
    const error = await rejection(load(input(await token())))
    expect(error.code).toBe('jwks_unavailable')
    expect(error.status).toBe(503)
  })
})

describe('issuer config validation', () => {
  function problems(issuer: Record<string, unknown>): string[] {
    const parsed = parseConfig({ ...env, ISSUER: OURS, SETTINGS: { external_issuers: [issuer] }, ROUTES: [] })
    return parsed.ok ? [] : parsed.problems
  }

  it('accepts https key URLs, and http only on loopback', () => {
    expect(problems(issuerConfig())).toEqual([])
    expect(problems(issuerConfig({ jwks_url: 'http://127.0.0.1:9000/jwks' }))).toEqual([])
    expect(problems(issuerConfig({ jwks_url: 'http://idp.example.test/jwks' }))).toEqual([
      'SETTINGS.external_issuers[0].jwks_url: must be an https URL (http only for 127.0.0.1, localhost or [::1])',
    ])
  })

  it('needs exactly one of jwks_url and discovery_url', () => {
    const both = issuerConfig({ discovery_url: 'https://idp.example.test/.well-known/openid-configuration' })
    expect(problems(both)).toEqual([
      'SETTINGS.external_issuers[0]: needs exactly one of jwks_url or discovery_url',
    ])
    expect(problems(issuerConfig({ jwks_url: undefined }))).toHaveLength(1)
  })

  it('refuses a refetch cooldown under 5 s (it is what bounds fetches forced by unknown kids)', () => {
    expect(problems(issuerConfig({ jwks_refetch_cooldown_seconds: 1 }))[0]).toMatch(
      /^SETTINGS\.external_issuers\[0\]\.jwks_refetch_cooldown_seconds: /,
    )
  })

  it('refuses an allowed scope that is not an OAuth scope token (a space would read as two scopes)', () => {
    expect(problems(issuerConfig({ allowed_scopes: ['read write'] }))).toEqual([
      'SETTINGS.external_issuers[0].allowed_scopes[0]: must be an OAuth scope token (RFC 6749 §3.3)',
    ])
    expect(problems(issuerConfig({ allowed_scopes: ['read:messages', 'User.Read'] }))).toEqual([])
  })

  it('refuses symmetric algorithms', () => {
    expect(problems(issuerConfig({ algorithms: ['HS256'] }))[0]).toMatch(
      /^SETTINGS\.external_issuers\[0\]\.algorithms\[0\]/,
    )
  })
})
