import { env } from 'cloudflare:test'
import { decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  callApi,
  createClient,
  createUser,
  PASSWORD,
  type Tokens,
} from '../../test/support/accounts'
import { forgeToken, nowSeconds } from '../../test/support/forge'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { uuidv7 } from '../crypto/uuid7'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const APP = { id: 'kr-app', secret: 'kr-app-secret-0123456789' }
const ACCEPTED = { status: 200, forwarded: 1 }
const REJECTED = { status: 401, forwarded: 0 }

/** The test key set (vitest.config.ts): test-key-1 signs, test-key-2 verifies. */
function testKeys(): JWK[] {
  return (JSON.parse(String(env.SIGNING_KEYS)) as { keys: JWK[] }).keys
}

function keySet(keys: JWK[]): string {
  return JSON.stringify({ keys })
}

const FULL = () => keySet(testKeys())
const WITHOUT_KEY_1 = () => keySet(testKeys().filter((key) => key.kid !== 'test-key-1'))

async function newSigningKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' }
}

/** A gateway whose SIGNING_KEYS secret is `signingKeys` (a new deployment of the secret). */
function withKeys(signingKeys: string) {
  return (path: string, init: RequestInit = {}) => fetchWithEnv({ SIGNING_KEYS: signingKeys }, path, init)
}

async function signIn(signingKeys: string, username: string): Promise<Tokens> {
  const response = await withKeys(signingKeys)('/auth/token', {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD }).toString(),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

function callWithKeys(signingKeys: string, token: string): Promise<{ status: number; forwarded: number }> {
  return callApi(token, withKeys(signingKeys))
}

async function jwksKids(signingKeys: string): Promise<string[]> {
  const response = await withKeys(signingKeys)('/.well-known/jwks.json')
  return ((await response.json()) as { keys: JWK[] }).keys.map((key) => String(key.kid))
}

function kidOf(token: string): unknown {
  return decodeProtectedHeader(token).kid
}

beforeAll(async () => {
  await createClient(APP.id, {
    secret: APP.secret,
    grantTypes: ['password', 'refresh_token'],
    scopes: ['read'],
  })
})

describe('removing a kid from SIGNING_KEYS (key compromise)', () => {
  it('rejects a token it signed on the next request, although this isolate verified and cached it before', async () => {
    await createUser('kr-removed')
    const tokens = await signIn(FULL(), 'kr-removed')
    expect(kidOf(tokens.access_token)).toBe('test-key-1')
    expect(await callWithKeys(FULL(), tokens.access_token)).toEqual(ACCEPTED)
    expect(await callWithKeys(FULL(), tokens.access_token)).toEqual(ACCEPTED)

    const id = testId()
    const response = await withKeys(WITHOUT_KEY_1())('/api/things', {
      headers: { ...bearer(tokens.access_token), 'x-test-id': id },
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(await upstreamReceived(id)).toEqual([])
  })

  it('makes introspection of its tokens answer exactly {"active":false}', async () => {
    await createUser('kr-introspect')
    const response = await withKeys(FULL())('/auth/token', {
      method: 'POST',
      headers: { ...FORM, ...basicAuth(APP.id, APP.secret) },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'kr-introspect',
        password: PASSWORD,
      }).toString(),
    })
    const tokens = (await response.json()) as Tokens
    const introspect = (signingKeys: string) =>
      withKeys(signingKeys)('/auth/introspect', {
        method: 'POST',
        headers: { ...FORM, ...basicAuth(APP.id, APP.secret) },
        body: new URLSearchParams({ token: tokens.access_token }).toString(),
      })
    expect(await (await introspect(FULL())).json()).toMatchObject({ active: true })
    const removed = await introspect(WITHOUT_KEY_1())
    expect(removed.status).toBe(200)
    expect(await removed.text()).toBe('{"active":false}')
  })

  it('keeps accepting tokens signed by the keys that remain, and stops publishing the removed one', async () => {
    await createUser('kr-remaining')
    const tokens = await signIn(WITHOUT_KEY_1(), 'kr-remaining')
    expect(kidOf(tokens.access_token)).toBe('test-key-2')
    expect(await callWithKeys(WITHOUT_KEY_1(), tokens.access_token)).toEqual(ACCEPTED)
    expect(await jwksKids(WITHOUT_KEY_1())).toEqual(['test-key-2'])
  })
})

describe('rotation: a new active key prepended to SIGNING_KEYS', () => {
  let rotated: string
  let retired: string

  beforeAll(async () => {
    const fresh = await newSigningKey('kr-new')
    rotated = keySet([fresh, ...testKeys()])
    // The old signer removed once its tokens have expired.
    retired = keySet([fresh, ...testKeys().filter((key) => key.kid !== 'test-key-1')])
  })

  it('signs new tokens with the new key and keeps verifying tokens of the old key', async () => {
    await createUser('kr-rotate')
    const old = await signIn(FULL(), 'kr-rotate')
    const fresh = await signIn(rotated, 'kr-rotate')
    expect(kidOf(old.access_token)).toBe('test-key-1')
    expect(kidOf(fresh.access_token)).toBe('kr-new')
    expect(await callWithKeys(rotated, old.access_token)).toEqual(ACCEPTED)
    expect(await callWithKeys(rotated, fresh.access_token)).toEqual(ACCEPTED)
    expect(await jwksKids(rotated)).toEqual(['kr-new', 'test-key-1', 'test-key-2'])
  })

  it('keeps a session started before the rotation refreshable after it, now under the new key', async () => {
    await createUser('kr-rotate-refresh')
    const old = await signIn(FULL(), 'kr-rotate-refresh')
    const response = await withKeys(rotated)('/auth/token', {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: old.refresh_token ?? '',
      }).toString(),
    })
    expect(response.status).toBe(200)
    const refreshed = (await response.json()) as Tokens
    expect(kidOf(refreshed.access_token)).toBe('kr-new')
    expect(await callWithKeys(rotated, refreshed.access_token)).toEqual(ACCEPTED)
  })

  it('still refuses an old-key token once it has expired', async () => {
    const user = await createUser('kr-rotate-expired')
    const iat = nowSeconds() - 1000
    const expired = await forgeToken({
      sub: user.id,
      username: user.username,
      jti: uuidv7(iat * 1000),
      iat,
      nbf: iat,
      exp: iat + 900,
    })
    expect(kidOf(expired)).toBe('test-key-1')
    expect(await callWithKeys(rotated, expired)).toEqual(REJECTED)
  })

  it('after the old key is retired, new-key tokens keep working and old-key tokens are refused', async () => {
    await createUser('kr-retire')
    const old = await signIn(FULL(), 'kr-retire')
    const fresh = await signIn(rotated, 'kr-retire')
    expect(await callWithKeys(retired, fresh.access_token)).toEqual(ACCEPTED)
    expect(await callWithKeys(retired, old.access_token)).toEqual(REJECTED)
  })
})
