/**
 * Degrade, never collapse (docs/capacity.md, "When D1 is overloaded"): with D1 answering
 * "overloaded" or not answering at all, credentials the caches hold keep working, sign-ins fail
 * fast with 503 and Retry-After, a revocation whose write did not happen is never reported as done,
 * audit events are retried and then logged whole, and a rotation is all or nothing. The faults
 * are injected into the real local D1 and KV (support/storage-spies.ts), never stand-ins for them.
 */
import { env } from 'cloudflare:test'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { AUDIT_WRITE_RETRY_DELAYS_MS } from '../src/audit/record'
import { sha256Hex } from '../src/crypto/bytes'
import { STORAGE_TIMEOUT_MS } from '../src/db/errors'
import { apiKeyKey, sessionKey } from '../src/db/kv-keys'
import { STORAGE_RETRY_AFTER_SECONDS } from '../src/errors/render'
import { bearer, createUser, login, PASSWORD, type Tokens, tokenRequest } from './support/accounts'
import { auditRows } from './support/admin'
import { createApiKey } from './support/api-keys'
import { fetchWithEnv, testId, upstreamReceived } from './support/gateway'
import { browserLogin, sameOrigin } from './support/sessions'
import {
  type DbCall,
  d1Overloaded,
  kvWriteLimited,
  revokedRowInD1,
  spyDb,
  spyKv,
} from './support/storage-spies'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Every D1 execution answers what an overloaded primary answers. */
function overloadedDb(): D1Database {
  return spyDb(env.DB, { failWhen: () => true, failure: d1Overloaded }).db
}

const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i

function writes(call: DbCall): boolean {
  return [call.sql ?? '', ...(call.statements ?? [])].some((sql) => WRITE.test(sql))
}

/** D1 reads succeed (the caller authenticates), every write answers "overloaded". */
function writesOverloadedDb(): D1Database {
  return spyDb(env.DB, {
    failWhen: (call) => call.method !== 'prepare' && writes(call),
    failure: d1Overloaded,
  }).db
}

async function expectRetryLater(response: Response): Promise<void> {
  const text = await response.text()
  expect(response.status, text).toBe(503)
  expect(JSON.parse(text)).toMatchObject({ error: 'storage_unavailable' })
  expect(response.headers.get('retry-after')).toBe(String(STORAGE_RETRY_AFTER_SECONDS))
  // The platform's own words stay in the log (the description is ours; the random request id may
  // hold any digits, "429" among them).
  expect((JSON.parse(text) as { error_description: string }).error_description).not.toMatch(
    /overloaded|D1_ERROR|429/,
  )
}

async function proxied(headers: Record<string, string>, overrides: Parameters<typeof fetchWithEnv>[0]) {
  const id = testId()
  const response = await fetchWithEnv(overrides, '/api/things', { headers: { ...headers, 'x-test-id': id } })
  await response.arrayBuffer()
  return { status: response.status, forwarded: (await upstreamReceived(id)).length }
}

const SERVED = { status: 200, forwarded: 1 }

/** A POST through the app with some bindings replaced; with `form`, a form body. */
function post(
  overrides: Parameters<typeof fetchWithEnv>[0],
  path: string,
  headers: Record<string, string>,
  form?: Record<string, string>,
): Promise<Response> {
  return fetchWithEnv(overrides, path, {
    method: 'POST',
    headers: form ? { ...FORM, ...headers } : headers,
    ...(form ? { body: new URLSearchParams(form) } : {}),
  })
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('D1 overloaded: what the caches hold keeps working', () => {
  let tokens: Tokens
  beforeAll(async () => {
    await createUser('dg-cached')
    tokens = await login('dg-cached')
  })

  it('an access token on a default route is served (KV denylist only, no D1)', async () => {
    expect(await proxied(bearer(tokens.access_token), { DB: overloadedDb() })).toEqual(SERVED)
  })

  it('an API key whose record KV holds is served; its last-use write and audit fail after the response', async () => {
    const key = await createApiKey(tokens.access_token, { name: 'degrade key' })
    // A first use with D1 healthy fills the KV copy, as any earlier use in this location did.
    expect(await proxied({ 'x-api-key': key.key }, {})).toEqual(SERVED)
    expect(await env.KV.get(apiKeyKey(key.id))).not.toBeNull()
    expect(await proxied({ 'x-api-key': key.key }, { DB: overloadedDb() })).toEqual(SERVED)
  })

  it('a browser session whose record KV holds is served', async () => {
    const session = await browserLogin('dg-cached')
    const id = testId()
    const response = await fetchWithEnv({ DB: overloadedDb() }, '/app/home', {
      headers: { ...sameOrigin(session), 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
  })
})

describe('KV refusing a cache fill (429: one write per second per key) does not refuse a valid credential', () => {
  const limitedPuts = () =>
    spyKv(env.KV, { failWhen: (call) => call.method === 'put', failure: kvWriteLimited })

  it('an API key read from D1 is served although its KV copy could not be written', async () => {
    await createUser('dg-fill-key')
    const key = await createApiKey((await login('dg-fill-key')).access_token, { name: 'fill key' })
    const kv = limitedPuts()
    expect(await proxied({ 'x-api-key': key.key }, { KV: kv.kv })).toEqual(SERVED)
    expect(kv.calls.some((call) => call.method === 'put' && call.key === apiKeyKey(key.id))).toBe(true)
  })

  it('a session read from D1 is served although its KV copy could not be written', async () => {
    await createUser('dg-fill-session')
    const session = await browserLogin('dg-fill-session')
    const hash = await sha256Hex(session.session)
    await env.KV.delete(sessionKey(hash)) // expired in this location: the next check reads D1
    await new Promise((resolve) => setTimeout(resolve, 2_100)) // and this isolate's 2 s copy
    const kv = limitedPuts()
    const response = await fetchWithEnv({ KV: kv.kv }, '/app/home', { headers: sameOrigin(session) })
    expect(response.status).toBe(200)
    expect(kv.calls.some((call) => call.method === 'put' && call.key === sessionKey(hash))).toBe(true)
  })
})

describe('D1 overloaded or hung: sign-ins fail fast with 503 and Retry-After', () => {
  it('the password grant answers 503 with Retry-After at once, never queueing', async () => {
    await createUser('dg-login')
    const started = Date.now()
    const response = await fetchWithEnv({ DB: overloadedDb() }, '/auth/token', {
      method: 'POST',
      headers: { ...FORM, 'cf-connecting-ip': '198.51.100.7' },
      body: new URLSearchParams({ grant_type: 'password', username: 'dg-login', password: PASSWORD }),
    })
    await expectRetryLater(response)
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('the login form answers 503 with Retry-After', async () => {
    await createUser('dg-form')
    const login = await browserLogin('dg-form', {
      through: (path, init) =>
        fetchWithEnv(init?.method === 'POST' ? { DB: overloadedDb() } : {}, path, init),
    })
    await expectRetryLater(login.response)
  })

  it(`a D1 that never answers: 503 after ${STORAGE_TIMEOUT_MS} ms, not a hung request`, async () => {
    await createUser('dg-hang')
    const hung = spyDb(env.DB, {
      // The throttle reservation, the first statement of every password check, never returns.
      beforeExecution: (call) => (/auth_failures/.test(call.sql ?? '') ? new Promise(() => {}) : undefined),
    })
    const started = Date.now()
    const response = await post(
      { DB: hung.db },
      '/auth/token',
      {},
      { grant_type: 'password', username: 'dg-hang', password: PASSWORD },
    )
    await expectRetryLater(response)
    expect(Date.now() - started).toBeLessThan(STORAGE_TIMEOUT_MS + 2_000)
    expect(hung.calls.some((call) => /auth_failures/.test(call.sql ?? ''))).toBe(true)
  }, 20_000)
})

describe('a logout or revocation whose write did not happen answers 503, never success', () => {
  it('POST /auth/logout with an access token', async () => {
    await createUser('dg-logout')
    const tokens = await login('dg-logout')
    const response = await post({ DB: writesOverloadedDb() }, '/auth/logout', bearer(tokens.access_token))
    await expectRetryLater(response)
    expect(await revokedRowInD1(env.DB, tokens.access_token)).toBeNull()
  })

  it('POST /auth/logout with the session cookie', async () => {
    await createUser('dg-logout-cookie')
    const session = await browserLogin('dg-logout-cookie')
    const response = await fetchWithEnv({ DB: writesOverloadedDb() }, '/auth/logout', {
      method: 'POST',
      headers: sameOrigin(session),
      redirect: 'manual',
    })
    await expectRetryLater(response)
    // Nothing ended: the session still works once D1 is back.
    expect((await fetchWithEnv({}, '/app/home', { headers: sameOrigin(session) })).status).toBe(200)
  })

  it('POST /auth/logout-all', async () => {
    await createUser('dg-logout-all')
    const tokens = await login('dg-logout-all')
    const response = await post({ DB: writesOverloadedDb() }, '/auth/logout-all', bearer(tokens.access_token))
    await expectRetryLater(response)
  })

  it('DELETE /auth/sessions/{id}', async () => {
    await createUser('dg-end-one')
    const session = await browserLogin('dg-end-one')
    const list = await fetchWithEnv({}, '/auth/sessions', { headers: sameOrigin(session) })
    const { items } = (await list.json()) as { items: { id: string }[] }
    const response = await fetchWithEnv({ DB: writesOverloadedDb() }, `/auth/sessions/${items[0]?.id}`, {
      method: 'DELETE',
      headers: sameOrigin(session),
    })
    await expectRetryLater(response)
  })

  it('POST /auth/revoke of an access token', async () => {
    await createUser('dg-revoke')
    const tokens = await login('dg-revoke')
    const response = await post({ DB: writesOverloadedDb() }, '/auth/revoke', bearer(tokens.access_token), {
      token: tokens.access_token,
    })
    await expectRetryLater(response)
    expect(await revokedRowInD1(env.DB, tokens.access_token)).toBeNull()
  })

  it('KV refusing the second not-before write within a second (429): a repeated logout-all answers 503, not 204', async () => {
    await createUser('dg-kv-429')
    const first = await login('dg-kv-429')
    // KV allows one write per second per key: the second `revoked:sub:` put in the same second fails.
    let puts = 0
    const kv = spyKv(env.KV, {
      failWhen: (call) =>
        call.method === 'put' && call.key?.startsWith('revoked:sub:') === true && ++puts > 1,
      failure: kvWriteLimited,
    })
    const once = await post({ KV: kv.kv }, '/auth/logout-all', bearer(first.access_token))
    expect(once.status).toBe(204)
    // Signed in again at once (the first logout-all voided every earlier token), and out again.
    const second = await login('dg-kv-429')
    const twice = await post({ KV: kv.kv }, '/auth/logout-all', bearer(second.access_token))
    await expectRetryLater(twice)
  })

  it('a logout writes each denylist key once: KV refusing a second write to a key (429) does not fail it', async () => {
    await createUser('dg-kv-once')
    const tokens = await login('dg-kv-once')
    const written = new Set<string>()
    const kv = spyKv(env.KV, {
      // KV's limit: one write per second per key; the test's requests all fall in one second.
      failWhen: (call) => {
        if (call.method !== 'put' || call.key === undefined) return false
        if (written.has(call.key)) return true
        written.add(call.key)
        return false
      },
      failure: kvWriteLimited,
    })
    const response = await post({ KV: kv.kv }, '/auth/logout', bearer(tokens.access_token))
    expect(response.status).toBe(204)
    expect(await revokedRowInD1(env.DB, tokens.access_token)).not.toBeNull()
  })

  it('KV refusing a denylist write (429): POST /auth/revoke answers 503', async () => {
    await createUser('dg-kv-jti')
    const tokens = await login('dg-kv-jti')
    const kv = spyKv(env.KV, {
      failWhen: (call) => call.method === 'put' && call.key?.startsWith('revoked:jti:') === true,
      failure: kvWriteLimited,
    })
    const response = await post({ KV: kv.kv }, '/auth/revoke', bearer(tokens.access_token), {
      token: tokens.access_token,
    })
    await expectRetryLater(response)
  })
})

describe('audit events are not lost when D1 fails', () => {
  const isAuditBatch = (call: DbCall) =>
    call.method === 'batch' && (call.statements ?? []).some((sql) => /INTO audit_events/.test(sql))

  /** A password login with `db`; how many times the audit batch was attempted. */
  async function loginAttemptingAudit(db: ReturnType<typeof spyDb>, username: string): Promise<number> {
    const form = { grant_type: 'password', username, password: PASSWORD }
    const response = await post({ DB: db.db }, '/auth/token', {}, form)
    expect(response.status).toBe(200)
    return db.calls.filter(isAuditBatch).length
  }

  it('a batch refused twice is retried and stored', async () => {
    const user = await createUser('dg-audit-retry')
    let refusals = 0
    const db = spyDb(env.DB, {
      failWhen: (call) => isAuditBatch(call) && ++refusals <= AUDIT_WRITE_RETRY_DELAYS_MS.length,
      failure: d1Overloaded,
    })
    expect(await loginAttemptingAudit(db, 'dg-audit-retry')).toBe(AUDIT_WRITE_RETRY_DELAYS_MS.length + 1)
    const stored = (await auditRows()).filter((event) => event.subject_id === user.id)
    expect(stored.map((event) => event.type).sort()).toEqual(['login_succeeded', 'token_issued'])
  })

  it('a batch refused every time is logged whole: the events themselves, as the record of last resort', async () => {
    const user = await createUser('dg-audit-lost')
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const db = spyDb(env.DB, { failWhen: isAuditBatch, failure: d1Overloaded })
    expect(await loginAttemptingAudit(db, 'dg-audit-lost')).toBe(AUDIT_WRITE_RETRY_DELAYS_MS.length + 1)
    const lines = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
    const lost = lines.find((line) => line.event === 'audit_write_failed')
    expect(lost).toMatchObject({ attempts: AUDIT_WRITE_RETRY_DELAYS_MS.length + 1 })
    const events = lost?.events as { type: string; subject_id: string }[]
    expect(events.map((event) => event.type).sort()).toEqual(['login_succeeded', 'token_issued'])
    expect(events.every((event) => event.subject_id === user.id)).toBe(true)
    expect(JSON.stringify(lost)).not.toContain(PASSWORD)
    expect((await auditRows()).filter((event) => event.subject_id === user.id)).toEqual([])
  })
})

describe('nothing half-written', () => {
  it('a refresh rotation D1 refuses leaves the token as it was: the retry rotates it', async () => {
    await createUser('dg-rotate')
    const tokens = await login('dg-rotate')
    const refresh = tokens.refresh_token ?? ''
    // Refuse the execution that inserts the successor: were the rotation two statements, the parent
    // would be marked used by then, and the retry would be a reuse that ends the session.
    const db = spyDb(env.DB, {
      failWhen: (call) =>
        call.method !== 'prepare' &&
        [call.sql ?? '', ...(call.statements ?? [])].some((sql) =>
          /INSERT OR IGNORE INTO refresh_tokens/.test(sql),
        ),
      failure: d1Overloaded,
    })
    const refused = await post(
      { DB: db.db },
      '/auth/token',
      {},
      { grant_type: 'refresh_token', refresh_token: refresh },
    )
    await expectRetryLater(refused)
    const used = await env.DB.prepare('SELECT used_at FROM refresh_tokens WHERE token_hash = ?1')
      .bind(await sha256Hex(refresh))
      .first<{ used_at: number | null }>()
    expect(used?.used_at).toBeNull()
    const retried = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refresh })
    expect(retried.status).toBe(200)
  })
})
