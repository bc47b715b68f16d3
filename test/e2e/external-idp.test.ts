// Time budget: ~30 s on a 2-core machine (one gateway, three oidc-provider IdPs, two JWKS cooldowns
// of 5 s waited out). Measured 26 s at load 2.
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EchoServer, startEchoServer } from '../../scripts/echo-upstream'
import {
  API_AUDIENCE,
  assertTrustInForce,
  OTHER_AUDIENCE,
  type RunningIdp,
  startIdp,
  trustExternalIssuers,
  WEB_CLIENT_ID,
} from './external-idp-support'
import { type RunningGateway, startGateway } from './support/gateway'
import { upstreamReceived } from './support/upstream'

// The real gateway (`npm start`: wrangler dev + workerd) trusting a real external IdP (panva's
// oidc-provider) on loopback. Its JWKS is fetched for real, through discovery, and counted.
const COOLDOWN_SECONDS = 5
const COOLDOWN_MS = COOLDOWN_SECONDS * 1000
const JWKS_PATH = '/jwks'
// The IdP stamps a JWKS fetch when it arrives; the gateway starts its cooldown when it sends it. On a
// loaded machine one fetch can take this much longer to arrive than the next.
const ARRIVAL_JITTER_MS = 1_000

let echo: EchoServer
let gateway: RunningGateway
let idp: RunningIdp
let stranger: RunningIdp
let gone: RunningIdp
let goneToken: string

beforeAll(async () => {
  echo = await startEchoServer(0)
  idp = await startIdp(['gw-admins', 'staff', 'unmapped-group'])
  stranger = await startIdp()
  // An IdP that is trusted but down: it issues a token, then stops before the gateway ever
  // asked it for keys.
  gone = await startIdp()
  goneToken = await gone.clientCredentialsToken()
  await gone.stop()
  const trust = trustExternalIssuers({
    issuers: [
      {
        name: 'corp',
        issuer: idp.issuer,
        discovery_url: `${idp.issuer}/.well-known/openid-configuration`,
        // The web client's id is an audience here only so that the ID-token test below is refused
        // for being an ID token (typ), not merely for its audience.
        audiences: [API_AUDIENCE, WEB_CLIENT_ID],
        algorithms: ['ES256', 'RS256'],
        roles_claim: 'groups',
        scopes_claim: 'scope',
        // Roles and scopes are granted only as mapped here (an unmapped group or scope grants nothing).
        role_map: { 'gw-admins': ['admin'], staff: ['user'] },
        allowed_scopes: ['read', 'write'],
        username_claim: 'client_id',
        typ: 'at+jwt',
        jwks_refetch_cooldown_seconds: COOLDOWN_SECONDS,
      },
      {
        name: 'gone',
        issuer: gone.issuer,
        jwks_url: `${gone.issuer}${JWKS_PATH}`,
        audiences: [API_AUDIENCE],
        algorithms: ['ES256'],
      },
    ],
    routes: [
      {
        path: '/ext',
        upstream: 'UPSTREAM_URL',
        credentials: ['jwt', 'external_jwt'],
        issuers: ['corp', 'gone'],
      },
      {
        path: '/ext/admin',
        upstream: 'UPSTREAM_URL',
        roles: ['admin'],
        credentials: ['external_jwt'],
        issuers: ['corp'],
      },
      // An upstream that reads the caller from the signed assertion alone.
      {
        path: '/ext-assertion',
        upstream: 'UPSTREAM_URL',
        credentials: ['external_jwt'],
        issuers: ['corp'],
        identity: 'assertion',
      },
    ],
  })
  gateway = await startGateway({ upstreamUrl: echo.origin, prepare: trust })
  await assertTrustInForce(gateway, '/ext/probe')
})

afterAll(async () => {
  await gateway?.stop()
  await idp?.stop()
  await stranger?.stop()
  await echo?.close()
})

function call(path: string, token: string, id = crypto.randomUUID()): Promise<Response> {
  return fetch(`${gateway.origin}${path}`, { headers: { authorization: `Bearer ${token}`, 'x-test-id': id } })
}

async function expectNotForwarded(response: Response, id: string, status: number, error: string) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as { error: string; error_description: string }
  expect(body.error).toBe(error)
  expect(await upstreamReceived(echo, id)).toEqual([])
  return body
}

/** A token that claims to come from the IdP, signed by a key the IdP never published. */
async function unknownKidToken(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256')
  return new SignJWT({ sub: 'mallory', scope: 'read', groups: ['gw-admins'] })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: crypto.randomUUID() })
    .setIssuer(idp.issuer)
    .setAudience(API_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
}

describe('an access token of a trusted IdP (oidc-provider, client_credentials)', () => {
  test('is accepted, and the upstream sees external_jwt with the mapped identity', async () => {
    const token = await idp.clientCredentialsToken()
    const id = crypto.randomUUID()
    const response = await call('/ext/reports?month=11', token, id)
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(echo, id)
    expect(received?.url).toBe('/ext/reports?month=11')
    expect(received?.headers['x-auth-method']).toBe('external_jwt')
    // client_credentials: the IdP makes the client its own subject, namespaced by the issuer name.
    expect(received?.headers['x-auth-user-id']).toBe('corp|svc-reporting')
    expect(received?.headers['x-auth-issuer']).toBe('corp')
    expect(received?.headers['x-auth-user']).toBe('svc-reporting')
    expect(received?.headers['x-auth-roles']).toBe('admin,user')
    expect(received?.headers['x-auth-scopes']).toBe('read write')
    expect(received?.headers.authorization).toBeUndefined()
    expect(idp.hits('/.well-known/openid-configuration')).toBe(1)
    expect(idp.hits(JWKS_PATH)).toBe(1)
  })

  test('meets a role-protected route through role_map', async () => {
    const response = await call('/ext/admin/stats', await idp.clientCredentialsToken())
    expect(response.status).toBe(200)
  })

  test('is verified from cached keys: many requests, no further JWKS fetch', async () => {
    const before = idp.hits(JWKS_PATH)
    for (let i = 0; i < 5; i++)
      expect((await call('/ext/x', await idp.clientCredentialsToken())).status).toBe(200)
    expect(idp.hits(JWKS_PATH)).toBe(before)
  })
})

describe('a route with identity = "assertion"', () => {
  test('sends X-Auth-Assertion and X-Auth-User-Id only; the verified assertion says the rest', async () => {
    const id = crypto.randomUUID()
    const response = await fetch(`${gateway.origin}/ext-assertion/reports`, {
      headers: {
        authorization: `Bearer ${await idp.clientCredentialsToken()}`,
        'x-test-id': id,
        'x-auth-user': 'root-spoof',
        'x-auth-roles': 'admin',
      },
    })
    expect(response.status).toBe(200)
    // The upstream's response as it is: SETTINGS.response_request_id is off in the shipped config.
    expect(response.headers.get('x-request-id')).toBeNull()
    const [received] = await upstreamReceived(echo, id)
    const identity = Object.keys(received?.headers ?? {}).filter((name) => name.startsWith('x-auth-'))
    expect(identity.sort()).toEqual(['x-auth-assertion', 'x-auth-user-id'])
    expect(received?.headers['x-auth-user-id']).toBe('corp|svc-reporting')
    expect(received?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    const jwks = createRemoteJWKSet(new URL(`${gateway.origin}/.well-known/jwks.json`))
    const { payload } = await jwtVerify(String(received?.headers['x-auth-assertion']), jwks, {
      issuer: gateway.origin,
      audience: echo.origin,
    })
    expect(payload).toMatchObject({
      sub: 'corp|svc-reporting',
      username: 'svc-reporting',
      roles: ['admin', 'user'],
      scope: 'read write',
      auth_method: 'external_jwt',
      idp: 'corp',
    })
  })
})

describe('tokens the gateway refuses (401, nothing forwarded)', () => {
  test('a token of the same IdP for another resource server (wrong audience)', async () => {
    const id = crypto.randomUUID()
    const response = await call('/ext/x', await idp.clientCredentialsToken(OTHER_AUDIENCE), id)
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
    const body = await expectNotForwarded(response, id, 401, 'invalid_token')
    expect(body.error_description).toBe('The access token\'s "aud" claim is not acceptable.')
  })

  test('a token of an IdP nobody configured', async () => {
    const id = crypto.randomUUID()
    const body = await expectNotForwarded(
      await call('/ext/x', await stranger.clientCredentialsToken(), id),
      id,
      401,
      'invalid_token',
    )
    expect(body.error_description).toContain('not trusted')
    expect(stranger.hits(JWKS_PATH)).toBe(0)
  })

  test("an HS256 token whose HMAC secret is the IdP's public key", async () => {
    for (const secret of [JSON.stringify(idp.publicJwk), JSON.stringify({ keys: [idp.publicJwk] })]) {
      const forged = await new SignJWT({ sub: 'mallory', groups: ['gw-admins'], scope: 'read write' })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: idp.publicJwk.kid })
        .setIssuer(idp.issuer)
        .setAudience(API_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret))
      const id = crypto.randomUUID()
      const body = await expectNotForwarded(await call('/ext/admin/x', forged, id), id, 401, 'invalid_token')
      expect(body.error_description).toBe('The access token algorithm is not accepted for its issuer.')
    }
  })

  test('an ID token of the same IdP (not an access token: typ is not at+jwt)', async () => {
    const idToken = await idp.idToken('alice')
    const id = crypto.randomUUID()
    const body = await expectNotForwarded(await call('/ext/x', idToken, id), id, 401, 'invalid_token')
    expect(body.error_description).toBe('The access token\'s "typ" claim is not acceptable.')
  })

  test('tokens with unknown kids: one JWKS refetch, then nothing until the cooldown is over', async () => {
    // Let the cooldown of every earlier fetch run out, so the first unknown kid may refetch.
    await sleep((idp.hitTimes(JWKS_PATH).at(-1) ?? 0) + COOLDOWN_MS + ARRIVAL_JITTER_MS - Date.now())
    const before = idp.hits(JWKS_PATH)
    for (let i = 0; i < 10; i++) {
      const id = crypto.randomUUID()
      const body = await expectNotForwarded(
        await call('/ext/x', await unknownKidToken(), id),
        id,
        401,
        'invalid_token',
      )
      expect(body.error_description).toBe('The access token was not signed by a key of its issuer.')
    }
    // The first unknown kid refetched; the others, inside its cooldown, did not. Counted against the
    // cooldown, not against this loop's speed: should the loop outlast the cooldown on a loaded
    // machine, one more fetch is allowed, but never sooner than a cooldown after the one before.
    const fetched = idp.hitTimes(JWKS_PATH).slice(before)
    expect(fetched.length).toBeGreaterThanOrEqual(1)
    const gaps = fetched.slice(1).map((at, i) => at - (fetched[i] as number))
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(COOLDOWN_MS - ARRIVAL_JITTER_MS)
    // Once the cooldown of the last fetch is over, the next unknown kid refetches.
    await sleep((fetched.at(-1) ?? 0) + COOLDOWN_MS + ARRIVAL_JITTER_MS - Date.now())
    await call('/ext/x', await unknownKidToken())
    expect(idp.hits(JWKS_PATH)).toBe(before + fetched.length + 1)
    // The real keys still work throughout.
    expect((await call('/ext/x', await idp.clientCredentialsToken())).status).toBe(200)
  })
})

describe('when a trusted IdP cannot be reached', () => {
  test('its tokens get 503 jwks_unavailable and are never forwarded', async () => {
    const id = crypto.randomUUID()
    const response = await call('/ext/x', goneToken, id)
    const body = await expectNotForwarded(response, id, 503, 'jwks_unavailable')
    expect(JSON.stringify(body)).not.toContain(goneToken)
    expect(response.headers.get('retry-after')).toBe('30')
  })

  test('the IdP that is up keeps working meanwhile', async () => {
    expect((await call('/ext/x', await idp.clientCredentialsToken())).status).toBe(200)
  })
})
