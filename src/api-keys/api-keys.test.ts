import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { apiKeyRow, createApiKey, requestApiKey } from '../../test/support/api-keys'
import {
  fetchWithEnv,
  gatewayFetch,
  type Received,
  testId,
  upstreamReceived,
} from '../../test/support/gateway'
import { spyDb, storageOperations } from '../../test/support/storage-spies'
import { sha256Hex } from '../crypto/bytes'
import { apiKeyKey } from '../db/kv-keys'
import { setUserDisabled, setUserRoles } from '../users/store'
import { API_KEY_ISOLATE_CACHE_MS, apiKeyTombstone } from './cache'
import { touchApiKey } from './store'

afterEach(() => {
  vi.useRealTimers()
})

/** A user and a fresh access token for them. */
async function owner(username: string, roles: string[] = ['user']): Promise<{ id: string; token: string }> {
  const user = await createUser(username, roles)
  return { id: user.id, token: (await login(username)).access_token }
}

/** GET on the default /api route with the headers; returns the status and what the upstream got. */
async function callApi(
  headers: Record<string, string>,
  path = '/api/things',
): Promise<{
  status: number
  body: Record<string, unknown>
  challenge: string | null
  received: Received[]
}> {
  const id = testId()
  const response = await gatewayFetch(path, { headers: { ...headers, 'x-test-id': id } })
  const body = (await response.json()) as Record<string, unknown>
  return {
    status: response.status,
    body,
    challenge: response.headers.get('www-authenticate'),
    received: await upstreamReceived(id),
  }
}

function listKeys(token: string): Promise<Response> {
  return gatewayFetch('/auth/api-keys', { headers: bearer(token) })
}

/** Everything the upstream saw for one request, as one string (URL, raw header names and values, body). */
function everythingSeen(received: Received): string {
  return [received.url, ...received.rawHeaders, received.body].join('\n')
}

describe('creating a key shows it once and stores only its hash', () => {
  it('answers 201 with id, key, name, scopes, roles, expires_at and Cache-Control: no-store', async () => {
    const alice = await owner('ak-create')
    const response = await requestApiKey(alice.token, { name: 'ci runner', scopes: ['read'] })
    expect(response.status).toBe(201)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'id', 'key', 'name', 'roles', 'scopes'])
    expect(body).toMatchObject({ name: 'ci runner', scopes: ['read'], roles: null })
    expect(body.expires_at).toEqual(expect.any(Number))
    expect(body.key).toMatch(/^gwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    expect(String(body.key).slice(4, 20)).toBe(body.id)
  })

  it('D1 holds the SHA-256 of the key and no column holds the key or its secret part', async () => {
    const alice = await owner('ak-hash')
    const created = await createApiKey(alice.token, { name: 'hash-only' })
    const secret = created.key.slice(21)
    const row = await apiKeyRow(created.id)
    expect(row?.key_hash).toBe(await sha256Hex(created.key))
    expect(row?.user_id).toBe(alice.id)
    expect(JSON.stringify(row)).not.toContain(secret)
    const all = await env.DB.prepare('SELECT * FROM api_keys').all()
    expect(JSON.stringify(all.results)).not.toContain(secret)
  })

  it('the KV cache record of a used key holds the hash, never the key', async () => {
    const alice = await owner('ak-kv')
    const created = await createApiKey(alice.token, { name: 'kv' })
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
    const cached = await env.KV.get(apiKeyKey(created.id))
    expect(cached).toContain(await sha256Hex(created.key))
    expect(cached).not.toContain(created.key.slice(21))
  })

  it('listing never returns the key or its hash, only its metadata', async () => {
    const alice = await owner('ak-list')
    const created = await createApiKey(alice.token, { name: 'listed', scopes: ['read'] })
    const response = await listKeys(alice.token)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const text = await response.text()
    expect(text).not.toContain(created.key.slice(21))
    expect(text).not.toContain(await sha256Hex(created.key))
    const { api_keys } = JSON.parse(text) as { api_keys: Record<string, unknown>[] }
    expect(api_keys).toHaveLength(1)
    expect(api_keys[0]).toEqual({
      id: created.id,
      name: 'listed',
      scopes: ['read'],
      roles: null,
      created_at: expect.any(Number),
      expires_at: expect.any(Number),
      last_used_at: null,
      revoked_at: null,
    })
  })

  it("a user's list holds only their own keys", async () => {
    const alice = await owner('ak-own-a')
    const bob = await owner('ak-own-b')
    await createApiKey(alice.token, { name: 'alice-key' })
    const bobs = await createApiKey(bob.token, { name: 'bob-key' })
    const { api_keys } = (await (await listKeys(bob.token)).json()) as { api_keys: { id: string }[] }
    expect(api_keys.map((key) => key.id)).toEqual([bobs.id])
  })

  it.each([
    ['a missing name', {}],
    ['an empty name', { name: '' }],
    ['a name with markup', { name: '<script>' }],
    ['scopes that are not an array', { name: 'x', scopes: 'read' }],
    ['a malformed scope', { name: 'x', scopes: ['re"ad'] }],
  ])('%s is a 400 and stores nothing', async (_label, body) => {
    const alice = await owner(`ak-bad-${Math.random().toString(36).slice(2, 8)}`)
    const response = await requestApiKey(alice.token, body)
    expect(response.status).toBe(400)
    const count = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?1')
      .bind(alice.id)
      .first<{ n: number }>()
    expect(count?.n).toBe(0)
  })

  it('without an access token creating a key is 401 and stores nothing', async () => {
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys').first<{ n: number }>()
    const response = await gatewayFetch('/auth/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'anon' }),
    })
    expect(response.status).toBe(401)
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys').first<{ n: number }>()
    expect(after?.n).toBe(before?.n)
  })

  it('an API key cannot mint another API key (self-service takes access tokens only)', async () => {
    const alice = await owner('ak-mint')
    const created = await createApiKey(alice.token, { name: 'parent' })
    const response = await gatewayFetch('/auth/api-keys', {
      method: 'POST',
      headers: { 'x-api-key': created.key, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'child' }),
    })
    expect(response.status).toBe(401)
    const { api_keys } = (await (await listKeys(alice.token)).json()) as { api_keys: unknown[] }
    expect(api_keys).toHaveLength(1)
  })
})

describe('a key never holds more scopes than its owner', () => {
  it('a user asking for write (an editor scope) gets 400 invalid_scope and no key', async () => {
    const alice = await owner('ak-ceil-user', ['user'])
    const response = await requestApiKey(alice.token, { name: 'escalate', scopes: ['read', 'write'] })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' })
    expect(await apiKeyRowsOf(alice.id)).toBe(0)
  })

  it('an editor asking for admin gets 400 invalid_scope', async () => {
    const ed = await owner('ak-ceil-editor', ['editor'])
    const response = await requestApiKey(ed.token, { name: 'escalate', scopes: ['admin'] })
    expect(response.status).toBe(400)
    expect(await apiKeyRowsOf(ed.id)).toBe(0)
  })

  it("without scopes a key gets its owner's scopes (editor: read and write, inherited)", async () => {
    const ed = await owner('ak-ceil-default', ['editor'])
    const created = await createApiKey(ed.token, { name: 'default' })
    expect(created.scopes).toEqual(['read', 'write'])
  })

  it('an access token narrowed to read cannot mint a key with write', async () => {
    await createUser('ak-ceil-narrow', ['editor'])
    const narrowed = await login('ak-ceil-narrow', undefined, { scope: 'read' })
    expect(narrowed.scope).toBe('read')
    const response = await requestApiKey(narrowed.access_token, { name: 'widen', scopes: ['write'] })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' })
    const defaulted = await createApiKey(narrowed.access_token, { name: 'default' })
    expect(defaulted.scopes).toEqual(['read'])
  })

  it('a key of a demoted owner loses the scopes the owner no longer holds', async () => {
    const ed = await owner('ak-ceil-demoted', ['editor'])
    const created = await createApiKey(ed.token, { name: 'writer', scopes: ['read', 'write'] })
    await setUserRoles(env.DB, 'ak-ceil-demoted', ['user'])
    const id = testId()
    const response = await fetchWithEnv({ ROUTES: WRITE_ROUTE }, '/docs/1', {
      method: 'POST',
      headers: { 'x-api-key': created.key, 'x-test-id': id },
      body: 'x',
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope' })
    expect(await upstreamReceived(id)).toEqual([])
  })

  it('a read-only key is refused a write with 403 insufficient_scope and reaches nothing', async () => {
    const ed = await owner('ak-ceil-readonly', ['editor'])
    const created = await createApiKey(ed.token, { name: 'reader', scopes: ['read'] })
    const id = testId()
    const response = await fetchWithEnv({ ROUTES: WRITE_ROUTE }, '/docs/1', {
      method: 'PUT',
      headers: { 'x-api-key': created.key, 'x-test-id': id },
      body: 'x',
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="insufficient_scope", scope="write"',
    )
    expect(await upstreamReceived(id)).toEqual([])
    const get = await fetchWithEnv({ ROUTES: WRITE_ROUTE }, '/docs/1', {
      headers: { 'x-api-key': created.key },
    })
    expect(get.status).toBe(200)
  })
})

const WRITE_ROUTE = [
  {
    path: '/docs',
    upstream: 'UPSTREAM_URL',
    credentials: ['api_key'],
    scopes: ['read'],
    method_rules: { POST: { scopes: ['write'] }, PUT: { scopes: ['write'] } },
  },
]

async function apiKeyRowsOf(userId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?1')
    .bind(userId)
    .first<{ n: number }>()
  return row?.n ?? -1
}

const DAY = 86_400

describe('expiry', () => {
  it('a key created without expires_in expires after api_key_default_ttl_days (90 days), not never', async () => {
    const alice = await owner('ak-exp-default')
    const before = Math.floor(Date.now() / 1000)
    const created = await createApiKey(alice.token, { name: 'default-expiry' })
    const after = Math.floor(Date.now() / 1000)
    expect(created.expires_at).toBeGreaterThanOrEqual(before + 90 * DAY)
    expect(created.expires_at).toBeLessThanOrEqual(after + 90 * DAY)
    expect((await apiKeyRow(created.id))?.expires_at).toBe(created.expires_at)
  })

  it('an explicit "expires_in": null is the default lifetime too, not a key that never expires', async () => {
    const alice = await owner('ak-exp-null')
    const created = await createApiKey(alice.token, { name: 'null-expiry', expires_in: null })
    expect(created.expires_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 90 * DAY - 5)
  })

  it('exactly api_key_max_ttl_days (365 days) is accepted; the error for more names the maximum', async () => {
    const alice = await owner('ak-exp-max')
    const created = await createApiKey(alice.token, { name: 'max', expires_in: 365 * DAY })
    expect(created.expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 365 * DAY)
    const response = await requestApiKey(alice.token, { name: 'too-long', expires_in: 366 * DAY })
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error: string; error_description: string }
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toContain('365 days')
  })

  it('the default and the maximum follow SETTINGS (api_key_default_ttl_days 7, api_key_max_ttl_days 30)', async () => {
    const alice = await owner('ak-exp-settings')
    const SETTINGS = { ...(env.SETTINGS as object), api_key_default_ttl_days: 7, api_key_max_ttl_days: 30 }
    const create = (body: Record<string, unknown>) =>
      fetchWithEnv({ SETTINGS }, '/auth/api-keys', {
        method: 'POST',
        headers: { ...bearer(alice.token), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const response = await create({ name: 'weekly' })
    expect(response.status).toBe(201)
    const { expires_at } = (await response.json()) as { expires_at: number }
    expect(expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 7 * DAY)
    expect(expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000) + 7 * DAY - 5)
    expect((await create({ name: 'too-long', expires_in: 31 * DAY })).status).toBe(400)
  })

  it('expires_at is creation time plus expires_in, and the key works until then', async () => {
    const alice = await owner('ak-exp-ok')
    const before = Math.floor(Date.now() / 1000)
    const created = await createApiKey(alice.token, { name: 'short', expires_in: 3600 })
    expect(created.expires_at).toBeGreaterThanOrEqual(before + 3600)
    expect(created.expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600)
    expect((await apiKeyRow(created.id))?.expires_at).toBe(created.expires_at)
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
  })

  it('an expired key is 401 even while its record is still cached in KV', async () => {
    const alice = await owner('ak-exp-cached')
    const created = await createApiKey(alice.token, { name: 'short', expires_in: 60 })
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
    expect(await env.KV.get(apiKeyKey(created.id))).not.toBeNull()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    const after = await callApi({ 'x-api-key': created.key })
    expect(after.status).toBe(401)
    expect(after.body).toMatchObject({ error: 'invalid_credentials' })
    expect(after.received).toEqual([])
  })

  it('a key whose expiry has passed in D1 is 401 on its first use', async () => {
    const alice = await owner('ak-exp-d1')
    const created = await createApiKey(alice.token, { name: 'short', expires_in: 60 })
    await env.DB.prepare('UPDATE api_keys SET expires_at = ?2 WHERE id = ?1')
      .bind(created.id, Math.floor(Date.now() / 1000) - 1)
      .run()
    const result = await callApi({ 'x-api-key': created.key })
    expect(result.status).toBe(401)
    expect(result.received).toEqual([])
  })

  it.each([
    ['below a minute', 59],
    ['fractional', 120.5],
    ['a string', '3600'],
    ['negative', -1],
    ['one second beyond api_key_max_ttl_days (365 days)', 365 * DAY + 1],
    ['beyond five years', 5 * 365 * DAY + 1],
  ])('expires_in %s is a 400', async (_label, expiresIn) => {
    const alice = await owner(`ak-exp-bad-${Math.random().toString(36).slice(2, 8)}`)
    const response = await requestApiKey(alice.token, { name: 'bad', expires_in: expiresIn })
    expect(response.status).toBe(400)
    expect(await apiKeyRowsOf(alice.id)).toBe(0)
  })
})

describe('revocation', () => {
  it('a revoked key is rejected on the very next request, even though it was cached', async () => {
    const alice = await owner('ak-revoke')
    const created = await createApiKey(alice.token, { name: 'to-revoke' })
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
    const response = await gatewayFetch(`/auth/api-keys/${created.id}`, {
      method: 'DELETE',
      headers: bearer(alice.token),
    })
    expect(response.status).toBe(204)
    const after = await callApi({ 'x-api-key': created.key })
    expect(after.status).toBe(401)
    expect(after.challenge).toBe('ApiKey realm="edge-auth-gateway"')
    expect(after.body).toMatchObject({ error: 'invalid_credentials' })
    expect(after.received).toEqual([])
    expect((await apiKeyRow(created.id))?.revoked_at).toEqual(expect.any(Number))
  })

  it('the list shows the revocation time; revoking twice is a 404', async () => {
    const alice = await owner('ak-revoke-list')
    const created = await createApiKey(alice.token, { name: 'to-revoke' })
    const path = `/auth/api-keys/${created.id}`
    expect((await gatewayFetch(path, { method: 'DELETE', headers: bearer(alice.token) })).status).toBe(204)
    expect((await gatewayFetch(path, { method: 'DELETE', headers: bearer(alice.token) })).status).toBe(404)
    const { api_keys } = (await (await listKeys(alice.token)).json()) as {
      api_keys: { revoked_at: number | null }[]
    }
    expect(api_keys[0]?.revoked_at).toEqual(expect.any(Number))
  })

  it("a user cannot revoke another user's key: 404, and the key keeps working", async () => {
    const alice = await owner('ak-revoke-victim')
    const mallory = await owner('ak-revoke-attacker')
    const created = await createApiKey(alice.token, { name: 'victim' })
    const response = await gatewayFetch(`/auth/api-keys/${created.id}`, {
      method: 'DELETE',
      headers: bearer(mallory.token),
    })
    expect(response.status).toBe(404)
    expect((await apiKeyRow(created.id))?.revoked_at).toBeNull()
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
  })

  it('the tombstone the operator CLI writes on revoke-user/disable refuses a cached key on the next request', async () => {
    const alice = await owner('ak-tombstone')
    const created = await createApiKey(alice.token, { name: 'cached' })
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
    // What scripts/lib/admin-revoke.ts puts (wrangler kv bulk put), and nothing in D1: the KV copy alone decides.
    await env.KV.put(apiKeyKey(created.id), JSON.stringify(apiKeyTombstone(alice.id)), { expirationTtl: 60 })
    // Past this isolate's 2 s record cache (the documented per-isolate bound).
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + API_KEY_ISOLATE_CACHE_MS + 1)
    const after = await callApi({ 'x-api-key': created.key })
    expect(after.status).toBe(401)
    expect(after.received).toEqual([])
  })

  it('a key of a disabled owner is rejected', async () => {
    const alice = await owner('ak-disabled')
    const created = await createApiKey(alice.token, { name: 'orphan' })
    await setUserDisabled(env.DB, 'ak-disabled', true)
    const result = await callApi({ 'x-api-key': created.key })
    expect(result.status).toBe(401)
    expect(result.received).toEqual([])
  })
})

describe("a key's own roles (a subset of its owner's)", () => {
  it('a key with roles ["user"] of an admin is refused on /api/admin (403, nothing forwarded) and acts as user on /api', async () => {
    const root = await owner('ak-roles-admin', ['admin'])
    const created = await createApiKey(root.token, { name: 'ci', roles: ['user'] })
    expect(created).toMatchObject({ roles: ['user'], scopes: ['read'] })
    expect((await apiKeyRow(created.id))?.roles).toBe('["user"]')
    const admin = await callApi({ 'x-api-key': created.key }, '/api/admin/users')
    expect(admin.status).toBe(403)
    expect(admin.received).toEqual([])
    const api = await callApi({ 'x-api-key': created.key })
    expect(api.status).toBe(200)
    expect(api.received[0]?.headers['x-auth-roles']).toBe('user')
    expect(api.received[0]?.headers['x-auth-scopes']).toBe('read')
  })

  it("a key without roles acts with its owner's roles (an admin's key opens /api/admin)", async () => {
    const root = await owner('ak-roles-inherit', ['admin'])
    const created = await createApiKey(root.token, { name: 'full' })
    expect(created.roles).toBeNull()
    expect((await callApi({ 'x-api-key': created.key }, '/api/admin/users')).status).toBe(200)
  })

  it('a role held only through the hierarchy may be given (an editor gives its key "user")', async () => {
    const ed = await owner('ak-roles-hier', ['editor'])
    const created = await createApiKey(ed.token, { name: 'reader', roles: ['user'] })
    expect(created).toMatchObject({ roles: ['user'], scopes: ['read'] })
  })

  it.each([
    ['a user asking for admin', ['user'], ['admin']],
    ['an editor asking for admin', ['editor'], ['admin']],
    ['a user asking for a role nobody has', ['user'], ['billing']],
  ])('%s is a 400 invalid_request and stores nothing', async (_label, ownerRoles, roles) => {
    const someone = await owner(`ak-roles-no-${Math.random().toString(36).slice(2, 8)}`, ownerRoles)
    const response = await requestApiKey(someone.token, { name: 'escalate', roles })
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error: string; error_description: string }
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toContain(roles[0])
    expect(await apiKeyRowsOf(someone.id)).toBe(0)
  })

  it.each([
    ['not an array', 'user'],
    ['a non-string role', [1]],
    ['a malformed role name', ['Admin"']],
  ])('roles %s is a 400', async (_label, roles) => {
    const someone = await owner(`ak-roles-bad-${Math.random().toString(36).slice(2, 8)}`, ['admin'])
    expect((await requestApiKey(someone.token, { name: 'bad', roles })).status).toBe(400)
    expect(await apiKeyRowsOf(someone.id)).toBe(0)
  })

  it("a key's scopes are capped by the key's roles, not the owner's (admin owner, roles [user], scope admin: 400)", async () => {
    const root = await owner('ak-roles-scope', ['admin'])
    const response = await requestApiKey(root.token, { name: 'x', roles: ['user'], scopes: ['admin'] })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' })
    expect(await apiKeyRowsOf(root.id)).toBe(0)
  })

  it("a key with roles [admin] loses admin when its owner is demoted (capped by the owner's current roles)", async () => {
    const root = await owner('ak-roles-demoted', ['admin'])
    const created = await createApiKey(root.token, { name: 'admin-key', roles: ['admin'] })
    await setUserRoles(env.DB, 'ak-roles-demoted', ['user'])
    const result = await callApi({ 'x-api-key': created.key }, '/api/admin/users')
    expect(result.status).toBe(403)
    expect(result.received).toEqual([])
  })
})

describe('admin endpoints', () => {
  it("an admin lists every user's keys with their owner, never the key", async () => {
    const alice = await owner('ak-adm-owner')
    const root = await owner('ak-adm-root', ['admin'])
    const created = await createApiKey(alice.token, { name: 'owned' })
    const response = await gatewayFetch(`/admin/api-keys?user_id=${alice.id}`, {
      headers: bearer(root.token),
    })
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(text).not.toContain(created.key.slice(21))
    const { items } = JSON.parse(text) as { items: { id: string; user_id: string }[] }
    expect(items).toEqual([expect.objectContaining({ id: created.id, user_id: alice.id })])
  })

  it("an admin revokes another user's key and it is rejected on the next request", async () => {
    const alice = await owner('ak-adm-victim')
    const root = await owner('ak-adm-revoker', ['admin'])
    const created = await createApiKey(alice.token, { name: 'revoked-by-admin' })
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(200)
    const response = await gatewayFetch(`/admin/api-keys/${created.id}`, {
      method: 'DELETE',
      headers: bearer(root.token),
    })
    expect(response.status).toBe(204)
    expect((await callApi({ 'x-api-key': created.key })).status).toBe(401)
  })

  it('an editor is refused the admin list and revoke with 403, and the key survives', async () => {
    const alice = await owner('ak-adm-target')
    const ed = await owner('ak-adm-editor', ['editor'])
    const created = await createApiKey(alice.token, { name: 'target' })
    expect((await gatewayFetch('/admin/api-keys', { headers: bearer(ed.token) })).status).toBe(403)
    const response = await gatewayFetch(`/admin/api-keys/${created.id}`, {
      method: 'DELETE',
      headers: bearer(ed.token),
    })
    expect(response.status).toBe(403)
    expect((await apiKeyRow(created.id))?.revoked_at).toBeNull()
  })

  it("an admin's API key does not open the admin API (access tokens only)", async () => {
    const root = await owner('ak-adm-key', ['admin'])
    const created = await createApiKey(root.token, { name: 'admin-key' })
    const response = await gatewayFetch('/admin/api-keys', { headers: { 'x-api-key': created.key } })
    expect(response.status).toBe(401)
  })
})

describe('where a key may come from', () => {
  const ROUTES = [
    { path: '/api', upstream: 'UPSTREAM_URL' },
    {
      path: '/query',
      upstream: 'UPSTREAM_URL',
      credentials: ['api_key'],
      api_key_sources: ['header', 'query'],
    },
    {
      path: '/custom',
      upstream: 'UPSTREAM_URL',
      credentials: ['api_key'],
      api_key_sources: ['query'],
      api_key_param: 'key',
    },
    { path: '/cookie', upstream: 'UPSTREAM_URL', credentials: ['api_key'], api_key_sources: ['cookie'] },
  ]

  async function send(path: string, headers: Record<string, string> = {}): Promise<[Response, Received[]]> {
    const id = testId()
    const response = await fetchWithEnv({ ROUTES }, path, { headers: { ...headers, 'x-test-id': id } })
    return [response, await upstreamReceived(id)]
  }

  it('X-API-Key is accepted by default and the header never reaches the upstream', async () => {
    const alice = await owner('ak-src-header')
    const created = await createApiKey(alice.token, { name: 'header' })
    const [response, received] = await send('/api/things', { 'x-api-key': created.key })
    expect(response.status).toBe(200)
    expect(received).toHaveLength(1)
    const [seen] = received as [Received]
    expect(seen.headers['x-auth-method']).toBe('api_key')
    expect(seen.headers['x-auth-user-id']).toBe(alice.id)
    expect(seen.headers['x-api-key']).toBeUndefined()
    expect(everythingSeen(seen)).not.toContain(created.key)
  })

  it('a key in the query string is not a credential on a default route (401, nothing forwarded)', async () => {
    const alice = await owner('ak-src-q-off')
    const created = await createApiKey(alice.token, { name: 'query' })
    const [response, received] = await send(`/api/things?api_key=${created.key}`)
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('a key in a cookie is not a credential on a default route (401, nothing forwarded)', async () => {
    const alice = await owner('ak-src-c-off')
    const created = await createApiKey(alice.token, { name: 'cookie' })
    const [response, received] = await send('/api/things', { cookie: `api_key=${created.key}` })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('on a route that enables the query, the key is accepted and removed from the forwarded query', async () => {
    const alice = await owner('ak-src-q-on')
    const created = await createApiKey(alice.token, { name: 'query' })
    const [response, received] = await send(
      `/query/x?a=1&api_key=${created.key}&b=%20two&api_key=${created.key}`,
    )
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.query).toBe('a=1&b=%20two')
    expect(everythingSeen(seen)).not.toContain(created.key)
  })

  it('an encoded parameter name (api%5Fkey) is stripped as well, never forwarded', async () => {
    const alice = await owner('ak-src-q-enc')
    const created = await createApiKey(alice.token, { name: 'query' })
    const [response, received] = await send(`/query/x?api%5Fkey=${created.key}&keep=1`)
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.query).toBe('keep=1')
    expect(everythingSeen(seen)).not.toContain(created.key)
  })

  it('a route with a custom parameter reads and strips only that parameter', async () => {
    const alice = await owner('ak-src-param')
    const created = await createApiKey(alice.token, { name: 'param' })
    const [response, received] = await send(`/custom/x?key=${created.key}&api_key=not-a-secret`)
    expect(response.status).toBe(200)
    expect((received[0] as Received).query).toBe('api_key=not-a-secret')
    expect(everythingSeen(received[0] as Received)).not.toContain(created.key)
  })

  it('X-API-Key is not a credential on a route that takes keys only from the query', async () => {
    const alice = await owner('ak-src-q-only')
    const created = await createApiKey(alice.token, { name: 'param' })
    const [response, received] = await send('/custom/x', { 'x-api-key': created.key })
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('on a route that enables cookies, the key cookie is accepted and removed; other cookies pass', async () => {
    const alice = await owner('ak-src-c-on')
    const created = await createApiKey(alice.token, { name: 'cookie' })
    const [response, received] = await send('/cookie/x', {
      cookie: `theme=dark; api_key=${created.key}; lang=en`,
    })
    expect(response.status).toBe(200)
    const [seen] = received as [Received]
    expect(seen.headers.cookie).toBe('theme=dark; lang=en')
    expect(everythingSeen(seen)).not.toContain(created.key)
  })

  it('a second, different key in the same query parameter is 401, not first-one-wins', async () => {
    const alice = await owner('ak-src-q-two')
    const created = await createApiKey(alice.token, { name: 'query' })
    const [response, received] = await send(
      `/query/x?api_key=${created.key}&api_key=gwk_${'2'.repeat(16)}_${'C'.repeat(43)}`,
    )
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })

  it('an invalid key in an enabled query parameter is 401 and nothing is forwarded', async () => {
    const [response, received] = await send(`/query/x?api_key=gwk_${'0'.repeat(16)}_${'A'.repeat(43)}`)
    expect(response.status).toBe(401)
    expect(received).toEqual([])
  })
})

/** env.DB, spied: the SQL of every statement the gateway actually ran on the real D1. */
function countingDb(): { db: D1Database; statements: string[] } {
  const spy = spyDb(env.DB)
  return {
    db: spy.db,
    get statements() {
      return storageOperations(spy.calls).map((call) => call.sql ?? call.method)
    },
  }
}

describe('the hot path', () => {
  it('a well-formed but unknown key id costs one D1 read, then none while this isolate remembers it', async () => {
    const bogus = `gwk_${crypto.getRandomValues(new Uint8Array(8)).reduce((hex, byte) => hex + byte.toString(16).padStart(2, '0'), '')}_${'B'.repeat(43)}`
    const first = countingDb()
    const miss = await fetchWithEnv({ DB: first.db }, '/api/things', { headers: { 'x-api-key': bogus } })
    expect(miss.status).toBe(401)
    expect(first.statements.filter((sql) => /FROM api_keys/.test(sql))).toHaveLength(1)
    const again = countingDb()
    const retry = await fetchWithEnv({ DB: again.db }, '/api/things', { headers: { 'x-api-key': bogus } })
    expect(retry.status).toBe(401)
    expect(again.statements).toEqual([])
  })

  it('a cached key costs zero D1 statements per request', async () => {
    const alice = await owner('ak-hot-zero')
    const created = await createApiKey(alice.token, { name: 'hot' })
    const first = countingDb()
    const warm = await fetchWithEnv({ DB: first.db }, '/api/things', {
      headers: { 'x-api-key': created.key },
    })
    expect(warm.status).toBe(200)
    expect(first.statements.some((sql) => /FROM api_keys/.test(sql))).toBe(true)
    for (let i = 0; i < 3; i++) {
      const counted = countingDb()
      const hot = await fetchWithEnv({ DB: counted.db }, '/api/things', {
        headers: { 'x-api-key': created.key },
      })
      expect(hot.status).toBe(200)
      expect(counted.statements).toEqual([])
    }
  })

  it('a route with revocation "strict" reads D1 and rejects a key revoked only in D1', async () => {
    const routes = [
      { path: '/api', upstream: 'UPSTREAM_URL' },
      { path: '/strict', upstream: 'UPSTREAM_URL', revocation: 'strict' },
    ]
    const alice = await owner('ak-hot-strict')
    const created = await createApiKey(alice.token, { name: 'strict' })
    const headers = { 'x-api-key': created.key }
    expect((await fetchWithEnv({ ROUTES: routes }, '/api/x', { headers })).status).toBe(200)
    // Revoked in D1 without the KV tombstone (another location's revoke, before KV converges).
    await env.DB.prepare('UPDATE api_keys SET revoked_at = 1 WHERE id = ?1').bind(created.id).run()
    const counted = countingDb()
    const strict = await fetchWithEnv({ ROUTES: routes, DB: counted.db }, '/strict/x', { headers })
    expect(strict.status).toBe(401)
    expect(counted.statements.some((sql) => /FROM api_keys/.test(sql))).toBe(true)
  })

  it('last_used_at is written on first use and at most once a minute after that', async () => {
    const alice = await owner('ak-hot-touch')
    const created = await createApiKey(alice.token, { name: 'touch' })
    expect((await apiKeyRow(created.id))?.last_used_at).toBeNull()
    const writes: string[] = []
    for (let i = 0; i < 4; i++) {
      const counted = countingDb()
      const response = await fetchWithEnv({ DB: counted.db }, '/api/x', {
        headers: { 'x-api-key': created.key },
      })
      expect(response.status).toBe(200)
      writes.push(...counted.statements.filter((sql) => /UPDATE api_keys SET last_used_at/.test(sql)))
    }
    expect(writes).toHaveLength(1)
    const firstUse = (await apiKeyRow(created.id))?.last_used_at
    expect(firstUse).toEqual(expect.any(Number))

    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    const later = await fetchWithEnv({}, '/api/x', { headers: { 'x-api-key': created.key } })
    expect(later.status).toBe(200)
    expect((await apiKeyRow(created.id))?.last_used_at).toBeGreaterThanOrEqual((firstUse ?? 0) + 60)
  })

  it('the UPDATE itself refuses a second write within a minute (several isolates touching at once)', async () => {
    const alice = await owner('ak-hot-sql')
    const created = await createApiKey(alice.token, { name: 'sql' })
    const t = Math.floor(Date.now() / 1000)
    await touchApiKey(env.DB, created.id, t)
    await touchApiKey(env.DB, created.id, t + 30)
    expect((await apiKeyRow(created.id))?.last_used_at).toBe(t)
    await touchApiKey(env.DB, created.id, t + 60)
    expect((await apiKeyRow(created.id))?.last_used_at).toBe(t + 60)
  })
})
