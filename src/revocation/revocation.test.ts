import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  callApi,
  createClient,
  createUser,
  PASSWORD,
  type Tokens,
  tokenRequest,
} from '../../test/support/accounts'
import { forgeToken, nowSeconds } from '../../test/support/forge'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import {
  jtiHashOf,
  type KvCall,
  revokedEntryInKv,
  revokedRowInD1,
  spyDb,
  spyKv,
  storageOperations,
} from '../../test/support/storage-spies'
import { sha256Hex } from '../crypto/bytes'
import { uuidv7 } from '../crypto/uuid7'
import type { User } from '../users/store'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const APP = { id: 'rv-app', secret: 'rv-app-secret-0123456789' }
const OTHER = { id: 'rv-other', secret: 'rv-other-secret-0123456789' }
const PUBLIC_APP = 'rv-public'
// wrangler.toml's default: tokens are accepted this long after `exp`.
const CLOCK_SKEW_SECONDS = 30
const STRICT_ROUTES = [{ path: '/api', upstream: 'UPSTREAM_URL', revocation: 'strict' }]

type Session = Required<Pick<Tokens, 'access_token' | 'refresh_token'>>
type Client = { id: string; secret: string }

beforeAll(async () => {
  for (const client of [APP, OTHER]) {
    await createClient(client.id, {
      secret: client.secret,
      grantTypes: ['password', 'refresh_token'],
      scopes: ['read'],
    })
  }
  await createClient(PUBLIC_APP, { grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
})

async function loginWith(username: string, client?: Client | string): Promise<Session> {
  const params = { grant_type: 'password', username, password: PASSWORD }
  const response =
    typeof client === 'string'
      ? await tokenRequest({ ...params, client_id: client })
      : await tokenRequest(params, client ? basicAuth(client.id, client.secret) : {})
  expect(response.status).toBe(200)
  const tokens = (await response.json()) as Tokens
  if (!tokens.refresh_token) throw new Error('no refresh token')
  return { access_token: tokens.access_token, refresh_token: tokens.refresh_token }
}

function refreshWith(refreshToken: string, client?: Client): Promise<Response> {
  return tokenRequest(
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    client ? basicAuth(client.id, client.secret) : {},
  )
}

function revoke(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch('/auth/revoke', {
    method: 'POST',
    headers: { ...FORM, ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

const ACCEPTED = { status: 200, forwarded: 1 }
const REJECTED = { status: 401, forwarded: 0 }

async function expectEmpty200(response: Response): Promise<void> {
  expect(response.status).toBe(200)
  expect(await response.text()).toBe('')
}

async function revokedRowCount(): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM revoked_tokens').first<{ n: number }>()
  return row?.n ?? 0
}

/** An access token of ours for `user`, validly signed, with the given `exp` (and an `iat` to match). */
function tokenExpiringAt(user: User, exp: number): Promise<string> {
  const iat = exp - 900
  return forgeToken({
    sub: user.id,
    username: user.username,
    jti: uuidv7(iat * 1000),
    iat,
    nbf: iat,
    exp,
  })
}

describe('POST /auth/revoke of an access token (RFC 7009 §2.1)', () => {
  it('a working token revoked by its client gets 401 on the very next request in the same location, and is not forwarded', async () => {
    const user = await createUser('rv-same-location')
    const session = await loginWith(user.username, APP)
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)

    await expectEmpty200(await revoke({ token: session.access_token }, basicAuth(APP.id, APP.secret)))

    const id = testId()
    const denied = await gatewayFetch('/api/things', {
      headers: { ...bearer(session.access_token), 'x-test-id': id },
    })
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(await upstreamReceived(id)).toEqual([])
    expect(await revokedRowInD1(env.DB, session.access_token)).toMatchObject({ subject: user.id })
    expect(await revokedEntryInKv(env.KV, session.access_token)).not.toBeNull()
  })

  it('the owner may revoke their own token using it as the Bearer credential', async () => {
    await createUser('rv-self')
    const session = await loginWith('rv-self')
    await expectEmpty200(await revoke({ token: session.access_token }, bearer(session.access_token)))
    expect(await callApi(session.access_token)).toEqual(REJECTED)
  })

  it("an admin may revoke another user's token", async () => {
    await createUser('rv-admin', ['admin'])
    await createUser('rv-admin-target')
    const admin = await loginWith('rv-admin')
    const target = await loginWith('rv-admin-target')
    await expectEmpty200(await revoke({ token: target.access_token }, bearer(admin.access_token)))
    expect(await callApi(target.access_token)).toEqual(REJECTED)
  })

  it('a public client that names its client_id revokes a token issued to it', async () => {
    await createUser('rv-public-user')
    const session = await loginWith('rv-public-user', PUBLIC_APP)
    await expectEmpty200(await revoke({ token: session.access_token, client_id: PUBLIC_APP }))
    expect(await callApi(session.access_token)).toEqual(REJECTED)
  })

  it('a wrong token_type_hint (refresh_token on an access token) is not trusted: the token is still revoked', async () => {
    await createUser('rv-wrong-hint-access')
    const session = await loginWith('rv-wrong-hint-access', APP)
    await expectEmpty200(
      await revoke(
        { token: session.access_token, token_type_hint: 'refresh_token' },
        basicAuth(APP.id, APP.secret),
      ),
    )
    expect(await callApi(session.access_token)).toEqual(REJECTED)
  })

  it('an access token still accepted within the clock skew after its exp can be revoked and is refused next', async () => {
    const user = await createUser('rv-in-skew')
    const token = await tokenExpiringAt(user, nowSeconds() - 5)
    expect(await callApi(token)).toEqual(ACCEPTED)
    await expectEmpty200(await revoke({ token }, bearer(token)))
    expect(await callApi(token)).toEqual(REJECTED)
  })
})

describe('POST /auth/revoke of a refresh token', () => {
  it('revokes its whole family and every access token issued from it', async () => {
    await createUser('rv-family')
    const first = await loginWith('rv-family', APP)
    const rotated = await refreshWith(first.refresh_token, APP)
    expect(rotated.status).toBe(200)
    const second = (await rotated.json()) as Session
    expect(await callApi(first.access_token)).toEqual(ACCEPTED)
    expect(await callApi(second.access_token)).toEqual(ACCEPTED)

    await expectEmpty200(
      await revoke(
        { token: second.refresh_token, token_type_hint: 'refresh_token' },
        basicAuth(APP.id, APP.secret),
      ),
    )

    const reused = await refreshWith(second.refresh_token, APP)
    expect(reused.status).toBe(400)
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' })
    expect(await callApi(first.access_token)).toEqual(REJECTED)
    expect(await callApi(second.access_token)).toEqual(REJECTED)
    expect(await revokedRowInD1(env.DB, first.access_token)).not.toBeNull()
    expect(await revokedRowInD1(env.DB, second.access_token)).not.toBeNull()
  })

  it('a wrong token_type_hint (access_token on a refresh token) is not trusted: the family is still revoked', async () => {
    await createUser('rv-wrong-hint-refresh')
    const session = await loginWith('rv-wrong-hint-refresh', APP)
    await expectEmpty200(
      await revoke(
        { token: session.refresh_token, token_type_hint: 'access_token' },
        basicAuth(APP.id, APP.secret),
      ),
    )
    expect((await refreshWith(session.refresh_token, APP)).status).toBe(400)
    expect(await callApi(session.access_token)).toEqual(REJECTED)
  })

  it('leaves other sessions of the same user alone', async () => {
    await createUser('rv-two-sessions')
    const ended = await loginWith('rv-two-sessions', APP)
    const kept = await loginWith('rv-two-sessions', APP)
    await expectEmpty200(await revoke({ token: ended.refresh_token }, basicAuth(APP.id, APP.secret)))
    expect(await callApi(kept.access_token)).toEqual(ACCEPTED)
    expect((await refreshWith(kept.refresh_token, APP)).status).toBe(200)
  })
})

describe('POST /auth/revoke answers 200 with an empty body and revokes nothing', () => {
  it('for an unknown refresh-token-shaped string, a malformed string and an unsigned JWT-looking string', async () => {
    const before = await revokedRowCount()
    const auth = basicAuth(APP.id, APP.secret)
    await expectEmpty200(await revoke({ token: `rt_${'A'.repeat(43)}` }, auth))
    await expectEmpty200(await revoke({ token: 'not a token at all %%%' }, auth))
    await expectEmpty200(await revoke({ token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }, auth))
    expect(await revokedRowCount()).toBe(before)
  })

  it('for an access token that expired beyond the clock skew', async () => {
    const user = await createUser('rv-expired')
    const token = await tokenExpiringAt(user, nowSeconds() - 3600)
    const before = await revokedRowCount()
    await expectEmpty200(await revoke({ token }, basicAuth(APP.id, APP.secret)))
    expect(await revokedRowCount()).toBe(before)
    expect(await revokedRowInD1(env.DB, token)).toBeNull()
  })

  it("when a client presents another client's access and refresh tokens (foreign client): both stay valid", async () => {
    await createUser('rv-foreign-client')
    const session = await loginWith('rv-foreign-client', APP)
    const other = basicAuth(OTHER.id, OTHER.secret)
    await expectEmpty200(await revoke({ token: session.access_token }, other))
    await expectEmpty200(
      await revoke({ token: session.refresh_token, token_type_hint: 'refresh_token' }, other),
    )

    expect(await revokedRowInD1(env.DB, session.access_token)).toBeNull()
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
    expect((await refreshWith(session.refresh_token, APP)).status).toBe(200)
  })

  it('when a client presents a token issued without any client (a first-party password login)', async () => {
    await createUser('rv-no-client')
    const session = await loginWith('rv-no-client')
    await expectEmpty200(await revoke({ token: session.access_token }, basicAuth(APP.id, APP.secret)))
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
  })

  it("when a (non-admin) user presents another user's tokens", async () => {
    await createUser('rv-victim')
    await createUser('rv-attacker')
    const victim = await loginWith('rv-victim')
    const attacker = await loginWith('rv-attacker')
    await expectEmpty200(await revoke({ token: victim.access_token }, bearer(attacker.access_token)))
    await expectEmpty200(await revoke({ token: victim.refresh_token }, bearer(attacker.access_token)))
    expect(await callApi(victim.access_token)).toEqual(ACCEPTED)
    expect((await refreshWith(victim.refresh_token)).status).toBe(200)
  })
})

describe('POST /auth/revoke refuses callers that do not authenticate', () => {
  it('a wrong client secret is 401 invalid_client and the token stays valid', async () => {
    await createUser('rv-bad-secret')
    const session = await loginWith('rv-bad-secret', APP)
    const response = await revoke({ token: session.access_token }, basicAuth(APP.id, 'wrong-secret'))
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
  })

  it('a wrong client_secret in the form is 401 invalid_client', async () => {
    await createUser('rv-bad-form-secret')
    const session = await loginWith('rv-bad-form-secret', APP)
    const response = await revoke({ token: session.access_token, client_id: APP.id, client_secret: 'nope' })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
  })

  it('no credentials at all is 401 invalid_client and nothing is revoked', async () => {
    await createUser('rv-anonymous')
    const session = await loginWith('rv-anonymous')
    const response = await revoke({ token: session.access_token })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
  })

  it('a revoked access token is no credential to revoke another token of the same user with', async () => {
    await createUser('rv-revoked-caller')
    const dead = await loginWith('rv-revoked-caller')
    const alive = await loginWith('rv-revoked-caller')
    await expectEmpty200(await revoke({ token: dead.access_token }, bearer(dead.access_token)))
    const response = await revoke({ token: alive.access_token }, bearer(dead.access_token))
    expect(response.status).toBe(401)
    expect(await callApi(alive.access_token)).toEqual(ACCEPTED)
  })

  it('a request without the token parameter is 400 invalid_request', async () => {
    const response = await revoke({}, basicAuth(APP.id, APP.secret))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })
})

describe('the denylist across locations: D1 holds the truth, KV serves the edge', () => {
  const strictRoutes = (path: string, init: RequestInit) =>
    fetchWithEnv({ ROUTES: STRICT_ROUTES }, path, init)

  it('a strict route rejects a revoked token whose KV entry is absent (another location), because D1 says revoked', async () => {
    await createUser('rv-strict')
    const session = await loginWith('rv-strict', APP)
    const control = await loginWith('rv-strict', APP)
    await expectEmpty200(await revoke({ token: session.access_token }, basicAuth(APP.id, APP.secret)))
    // A location whose KV has not seen the write yet: the entry is simply not there.
    const { jti } = decodeJwt(session.access_token)
    await env.KV.delete(`revoked:jti:${await sha256Hex(String(jti))}`)
    expect(await revokedEntryInKv(env.KV, session.access_token)).toBeNull()

    expect(await callApi(session.access_token, strictRoutes)).toEqual(REJECTED)
    expect(await callApi(control.access_token, strictRoutes)).toEqual(ACCEPTED)
  })

  it('a revocation this location has never seen (only in D1) is refused by a strict route, and is the window of the default one', async () => {
    const user = await createUser('rv-strict-elsewhere')
    const session = await loginWith(user.username)
    // What another location's gateway wrote to D1 while its KV write has not reached us.
    const { jti, exp } = decodeJwt(session.access_token)
    await env.DB.prepare(
      'INSERT INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4)',
    )
      .bind(await sha256Hex(String(jti)), user.id, exp, nowSeconds())
      .run()

    expect(await callApi(session.access_token, strictRoutes)).toEqual(REJECTED)
    // The default route reads KV only: until the entry propagates it still accepts the token.
    expect(await callApi(session.access_token)).toEqual(ACCEPTED)
  })

  it('the default route reads KV only (one bulk get of the subject and jti keys, no D1), a strict route reads D1 only', async () => {
    await createUser('rv-hot-path')
    const session = await loginWith('rv-hot-path')
    const kv = spyKv(env.KV)
    const db = spyDb(env.DB)
    const through = (routes?: unknown) => (path: string, init: RequestInit) =>
      fetchWithEnv({ KV: kv.kv, DB: db.db, ...(routes ? { ROUTES: routes } : {}) }, path, init)

    expect(await callApi(session.access_token, through())).toEqual(ACCEPTED)
    expect(storageOperations(db.calls)).toEqual([])
    expect(kv.calls).toEqual([
      expect.objectContaining({
        method: 'get',
        keys: [expect.stringMatching(/^revoked:sub:/), expect.stringMatching(/^revoked:jti:/)],
      }),
    ])

    kv.calls.length = 0
    expect(await callApi(session.access_token, through(STRICT_ROUTES))).toEqual(ACCEPTED)
    expect(kv.calls).toEqual([])
    expect(storageOperations(db.calls).map((call) => call.sql)).toEqual([
      expect.stringContaining('revoked_tokens'),
    ])
  })
})

describe('KV denylist entries', () => {
  function ttlsOf(calls: readonly KvCall[]): number[] {
    return calls
      .filter((call) => call.method === 'put')
      .map((call) => (call.options as { expirationTtl?: number } | undefined)?.expirationTtl ?? 0)
  }

  it('a token about to expire is written with expirationTtl 60 s, never less (KV rejects less)', async () => {
    const user = await createUser('rv-ttl-short')
    const token = await tokenExpiringAt(user, nowSeconds() + 5)
    const kv = spyKv(env.KV)
    const response = await fetchWithEnv({ KV: kv.kv }, '/auth/revoke', {
      method: 'POST',
      headers: { ...FORM, ...bearer(token) },
      body: new URLSearchParams({ token }).toString(),
    })
    await expectEmpty200(response)
    const puts = kv.calls.filter((call) => call.method === 'put')
    expect(puts.map((call) => call.key)).toEqual([expect.stringMatching(/^revoked:jti:[0-9a-f]{64}$/)])
    expect(ttlsOf(kv.calls)).toEqual([60])
    expect(await revokedEntryInKv(env.KV, token)).not.toBeNull()
  })

  it('a long-lived token is denied in KV at least until its exp plus the accepted clock skew', async () => {
    const user = await createUser('rv-ttl-long')
    const exp = nowSeconds() + 600
    const token = await tokenExpiringAt(user, exp)
    const kv = spyKv(env.KV)
    const response = await fetchWithEnv({ KV: kv.kv }, '/auth/revoke', {
      method: 'POST',
      headers: { ...FORM, ...bearer(token) },
      body: new URLSearchParams({ token }).toString(),
    })
    await expectEmpty200(response)
    const [ttl] = ttlsOf(kv.calls)
    const secondsUntilAccepted = exp + CLOCK_SKEW_SECONDS - nowSeconds()
    expect(ttl).toBeGreaterThanOrEqual(secondsUntilAccepted)
    expect(ttl).toBeLessThanOrEqual(secondsUntilAccepted + 2)
  })

  it('logout-all writes the per-user not-valid-before with a TTL of at least 60 s and the access-token lifetime', async () => {
    await createUser('rv-ttl-subject')
    const session = await loginWith('rv-ttl-subject')
    const kv = spyKv(env.KV)
    const settings = { ...(env.SETTINGS as Record<string, unknown>), access_token_ttl_seconds: 60 }
    const response = await fetchWithEnv({ KV: kv.kv, SETTINGS: settings }, '/auth/logout-all', {
      method: 'POST',
      headers: bearer(session.access_token),
    })
    expect(response.status).toBe(204)
    const puts = kv.calls.filter((call) => call.method === 'put')
    expect(puts.map((call) => call.key)).toEqual([expect.stringMatching(/^revoked:sub:/)])
    for (const ttl of ttlsOf(kv.calls)) expect(ttl).toBeGreaterThanOrEqual(60 + CLOCK_SKEW_SECONDS)
  })
})

describe('a denylist of 10,000 revoked jtis', () => {
  const DENYLIST_SIZE = 10_000

  async function emptyDenylist(): Promise<void> {
    await env.DB.prepare('DELETE FROM revoked_tokens').run()
    let cursor: string | undefined
    do {
      const page = await env.KV.list({ prefix: 'revoked:jti:', cursor })
      await Promise.all(page.keys.map((key) => env.KV.delete(key.name)))
      cursor = page.list_complete ? undefined : page.cursor
    } while (cursor)
  }

  /** `count` revoked jtis in D1 and KV, as the revocation endpoint writes them, `listed` among them. */
  async function fillDenylist(count: number, listed: string): Promise<void> {
    const filler = await Promise.all(Array.from({ length: count - 1 }, () => sha256Hex(crypto.randomUUID())))
    const hashes = [...filler.slice(0, count / 2), await jtiHashOf(listed), ...filler.slice(count / 2)]
    const now = nowSeconds()
    await env.DB.prepare(
      `INSERT INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at)
       SELECT value, 'denylist-filler', ?2, ?3 FROM json_each(?1)`,
    )
      .bind(JSON.stringify(hashes), now + 900, now)
      .run()
    for (let start = 0; start < hashes.length; start += 500) {
      await Promise.all(
        hashes
          .slice(start, start + 500)
          .map((hash) => env.KV.put(`revoked:jti:${hash}`, '1', { expirationTtl: 900 })),
      )
      // Live traffic meanwhile. Without it, the first forward after this long load failed with
      // "Network connection lost" (502), most likely a pooled upstream connection that the echo
      // server (Node's 5 s keep-alive) had closed while workerd was busy with the puts.
      const live = await fetchWithEnv({}, '/api/public/keep-alive')
      await live.arrayBuffer()
      expect(live.status).toBe(200)
    }
  }

  async function storageReadsOfOneRequest(token: string) {
    const kv = spyKv(env.KV)
    const db = spyDb(env.DB)
    const result = await callApi(token, (path, init) => fetchWithEnv({ KV: kv.kv, DB: db.db }, path, init))
    return { result, kv: storageOperations(kv.calls), db: storageOperations(db.calls) }
  }

  it('costs a valid token no more storage reads than an empty denylist, while a listed token is still refused', async () => {
    // Tokens of different users, each presented once: no answer of an earlier request can be reused.
    await createUser('rv-denylist-empty')
    await createUser('rv-denylist-full')
    await createUser('rv-denylist-listed')
    const before = await loginWith('rv-denylist-empty', APP)
    const valid = await loginWith('rv-denylist-full', APP)
    const listed = await loginWith('rv-denylist-listed', APP)

    await emptyDenylist()
    expect(await revokedRowCount()).toBe(0)
    const empty = await storageReadsOfOneRequest(before.access_token)
    expect(empty.result).toEqual(ACCEPTED)

    await fillDenylist(DENYLIST_SIZE, listed.access_token)
    expect(await revokedRowCount()).toBe(DENYLIST_SIZE)

    const full = await storageReadsOfOneRequest(valid.access_token)
    expect(full.result).toEqual(ACCEPTED)
    expect(full.db.length).toBeLessThanOrEqual(empty.db.length)
    expect(full.kv.length).toBeLessThanOrEqual(empty.kv.length)
    // Both are the constant cost of the KV hot path: one bulk get (subject and jti keys), no D1.
    expect(empty.db).toEqual([])
    expect(empty.kv.map((call) => call.keys?.length)).toEqual([2])
    expect(full.kv.map((call) => call.keys?.length)).toEqual([2])

    const refused = await storageReadsOfOneRequest(listed.access_token)
    expect(refused.result).toEqual(REJECTED)
  }, 180_000)
})
