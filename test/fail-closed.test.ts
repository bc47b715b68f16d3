import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  createClient,
  createUser,
  login,
  PASSWORD,
  type Tokens,
  tokenRequest,
} from './support/accounts'
import { fetchWithEnv, testId, upstreamReceived } from './support/gateway'
import { failingDb, failingKv, revokedRowInD1, spyDb, spyKv } from './support/storage-spies'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const APP = { id: 'fc-app', secret: 'fc-app-secret-0123456789' }
const STRICT_ROUTES = [{ path: '/api', upstream: 'UPSTREAM_URL', revocation: 'strict' }]

interface ErrorBody {
  error: string
  error_description: string
  request_id: string
}

beforeAll(async () => {
  await createClient(APP.id, {
    secret: APP.secret,
    grantTypes: ['password', 'refresh_token'],
    scopes: ['read'],
  })
})

/** A never-presented token of a new user: no earlier answer about it can be reused by the gateway. */
async function freshToken(username: string, client = false): Promise<Tokens> {
  await createUser(username)
  if (!client) return login(username)
  const response = await tokenRequest(
    { grant_type: 'password', username, password: PASSWORD },
    basicAuth(APP.id, APP.secret),
  )
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

async function expectStorageUnavailable(response: Response): Promise<void> {
  expect(response.status).toBe(503)
  const text = await response.text()
  const body = JSON.parse(text) as ErrorBody
  expect(body.error).toBe('storage_unavailable')
  // Neither the failure's own message nor the binding's internals reach the client.
  expect(text).not.toMatch(/unavailable \(test\)|StorageUnavailableForTest|revoked_tokens|revoked:/)
}

describe('a revocation check that cannot read storage fails closed (503, nothing forwarded)', () => {
  it('a KV that throws on the default route: 503 and the upstream receives nothing', async () => {
    const tokens = await freshToken('fc-kv-default')
    const id = testId()
    const response = await fetchWithEnv({ KV: failingKv(env.KV) }, '/api/things', {
      headers: { ...bearer(tokens.access_token), 'x-test-id': id },
    })
    await expectStorageUnavailable(response)
    expect(await upstreamReceived(id)).toEqual([])
  })

  it('a D1 that throws on a strict route: 503, the upstream receives nothing, and KV is not used instead', async () => {
    const tokens = await freshToken('fc-d1-strict')
    const kv = spyKv(env.KV)
    const id = testId()
    const response = await fetchWithEnv(
      { DB: failingDb(env.DB), KV: kv.kv, ROUTES: STRICT_ROUTES },
      '/api/things',
      { headers: { ...bearer(tokens.access_token), 'x-test-id': id } },
    )
    await expectStorageUnavailable(response)
    expect(await upstreamReceived(id)).toEqual([])
    expect(kv.calls).toEqual([])
  })

  it('a public route, which needs no revocation check, is still served with both bindings failing', async () => {
    const id = testId()
    const response = await fetchWithEnv({ DB: failingDb(env.DB), KV: failingKv(env.KV) }, '/api/public/x', {
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
  })

  it('introspection answers 503, never "active", when D1 cannot say whether the token is revoked', async () => {
    const tokens = await freshToken('fc-introspect', true)
    const db = spyDb(env.DB, {
      failWhen: (call) => call.method !== 'prepare' && /revoked_tokens/.test(call.sql ?? ''),
    })
    const response = await fetchWithEnv({ DB: db.db }, '/auth/introspect', {
      method: 'POST',
      headers: { ...FORM, ...basicAuth(APP.id, APP.secret) },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    })
    await expectStorageUnavailable(response)
  })
})

describe('a revocation that cannot be written is not reported as done', () => {
  it('POST /auth/revoke answers 503 when D1 refuses the denylist write, and nothing is denied', async () => {
    const tokens = await freshToken('fc-revoke-d1', true)
    const db = spyDb(env.DB, {
      failWhen: (call) =>
        call.method === 'run' && /INSERT OR IGNORE INTO revoked_tokens/.test(call.sql ?? ''),
    })
    const response = await fetchWithEnv({ DB: db.db }, '/auth/revoke', {
      method: 'POST',
      headers: { ...FORM, ...basicAuth(APP.id, APP.secret) },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    })
    await expectStorageUnavailable(response)
    expect(await revokedRowInD1(env.DB, tokens.access_token)).toBeNull()
  })

  it('POST /auth/revoke answers 503 when the KV edge copy cannot be written; D1 (the truth) holds the revocation and strict routes refuse the token', async () => {
    const tokens = await freshToken('fc-revoke-kv', true)
    const kv = spyKv(env.KV, { failWhen: (call) => call.method === 'put' })
    const response = await fetchWithEnv({ KV: kv.kv }, '/auth/revoke', {
      method: 'POST',
      headers: { ...FORM, ...basicAuth(APP.id, APP.secret) },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    })
    await expectStorageUnavailable(response)
    expect(await revokedRowInD1(env.DB, tokens.access_token)).not.toBeNull()
    const id = testId()
    const strict = await fetchWithEnv({ ROUTES: STRICT_ROUTES }, '/api/things', {
      headers: { ...bearer(tokens.access_token), 'x-test-id': id },
    })
    expect(strict.status).toBe(401)
    expect(await upstreamReceived(id)).toEqual([])
  })

  it('POST /auth/logout-all answers 503, not 204, when KV cannot be written', async () => {
    const tokens = await freshToken('fc-logout-all')
    const kv = spyKv(env.KV, { failWhen: (call) => call.method === 'put' })
    const response = await fetchWithEnv({ KV: kv.kv }, '/auth/logout-all', {
      method: 'POST',
      headers: bearer(tokens.access_token),
    })
    await expectStorageUnavailable(response)
  })
})
