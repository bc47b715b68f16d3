import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { bearer, callApi, createClient, createUser, login, tokenRequest } from '../../test/support/accounts'
import { requestApiKey } from '../../test/support/api-keys'
import { createCodeClient, exchangeCode, issueCode } from '../../test/support/authorization-code'
import { forgeToken, nowSeconds } from '../../test/support/forge'
import { fetchWithEnv, gatewayFetch } from '../../test/support/gateway'
import { revokedSubjectKey } from '../db/kv-keys'

/**
 * Minting an API key turns a 15-minute access token into a credential that lasts months, so it
 * takes a recent login (auth_time, RFC 9470 step-up) and a revocation check against D1.
 */

afterEach(() => {
  vi.useRealTimers()
})

const MAX_AGE = 300 // SETTINGS.api_key_max_auth_age_seconds default

async function keysOf(userId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?1')
    .bind(userId)
    .first<{ n: number }>()
  return row?.n ?? -1
}

function authTimeOf(token: string): unknown {
  return decodeJwt(token).auth_time
}

/**
 * A validly signed first-party token of ours (as the password grant issues) for a real user, with
 * the given auth_time (undefined: none).
 */
async function tokenFor(
  user: { id: string; username: string },
  authTime: number | undefined,
): Promise<string> {
  return forgeToken({
    sub: user.id,
    username: user.username,
    roles: ['user'],
    auth_time: authTime,
    first_party: true,
  })
}

async function expectStepUp(response: Response, maxAge = MAX_AGE): Promise<void> {
  expect(response.status).toBe(401)
  const challenge = response.headers.get('www-authenticate') ?? ''
  expect(challenge).toMatch(/^Bearer realm="edge-auth-gateway", error="insufficient_user_authentication", /)
  expect(challenge).toMatch(/, error_description="[^"]+"/)
  expect(challenge).toMatch(new RegExp(`, max_age=${maxAge}$`))
  expect(await response.json()).toMatchObject({ error: 'insufficient_user_authentication' })
}

describe('access tokens carry auth_time', () => {
  it('a password-grant token has auth_time = the login time (at most a second or two before iat)', async () => {
    await createUser('mint-claim')
    const { access_token } = await login('mint-claim')
    const claims = decodeJwt(access_token)
    // auth_time is taken when the password is verified, iat when the token is signed: on a loaded
    // machine the refresh-token write between them can cross a second boundary.
    expect(typeof claims.auth_time).toBe('number')
    expect(claims.iat).toBeGreaterThanOrEqual(claims.auth_time as number)
    expect((claims.iat as number) - (claims.auth_time as number)).toBeLessThanOrEqual(2)
  })

  it('client_credentials tokens have no auth_time (no user authenticated)', async () => {
    await createClient('mint-svc', { secret: 'mint-secret' })
    const response = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'mint-svc',
      client_secret: 'mint-secret',
    })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    expect(authTimeOf(access_token)).toBeUndefined()
  })
})

describe('only the user’s own token mints a key', () => {
  it('refuses a fresh token an app obtained for the user (403, no key), though its auth_time is recent', async () => {
    const user = await createUser('mint-delegated', ['admin'])
    await createCodeClient('mint-app', { allowedRoles: ['admin'] })
    const exchanged = await exchangeCode('mint-app', await issueCode('mint-app', user.id))
    const { access_token } = (await exchanged.json()) as { access_token: string }
    expect(nowSeconds() - Number(authTimeOf(access_token))).toBeLessThan(MAX_AGE)
    const response = await requestApiKey(access_token, { name: 'app key', expires_in: 365 * 86_400 })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope' })
    expect(await keysOf(user.id)).toBe(0)
  })

  it('refuses a client_credentials token (a client has no account to own keys)', async () => {
    await createClient('mint-svc-own', { secret: 'mint-own-secret', firstParty: true })
    const response = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'mint-svc-own',
      client_secret: 'mint-own-secret',
    })
    const { access_token } = (await response.json()) as { access_token: string }
    const minted = await requestApiKey(access_token, { name: 'svc key' })
    expect(minted.status).toBe(403)
    expect(await keysOf('mint-svc-own')).toBe(0)
  })
})

describe('minting needs a recent login (RFC 9470 step-up)', () => {
  it('a fresh password-grant token mints a key (201)', async () => {
    const user = await createUser('mint-fresh')
    const { access_token } = await login('mint-fresh')
    expect((await requestApiKey(access_token, { name: 'fresh' })).status).toBe(201)
    expect(await keysOf(user.id)).toBe(1)
  })

  it('a stolen token whose login is older than 300 s gets 401 insufficient_user_authentication with max_age=300, and no key', async () => {
    const user = await createUser('mint-old')
    const stale = await tokenFor(user, nowSeconds() - MAX_AGE - 5)
    // The token itself is valid: it still opens /api.
    expect((await callApi(stale)).status).toBe(200)
    await expectStepUp(await requestApiKey(stale, { name: 'persist' }))
    expect(await keysOf(user.id)).toBe(0)
  })

  it('a token without auth_time (issued before the upgrade) cannot mint', async () => {
    const user = await createUser('mint-none')
    await expectStepUp(await requestApiKey(await tokenFor(user, undefined), { name: 'persist' }))
    expect(await keysOf(user.id)).toBe(0)
  })

  it('a token claiming a login in the future cannot mint', async () => {
    const user = await createUser('mint-future')
    await expectStepUp(await requestApiKey(await tokenFor(user, nowSeconds() + 3_600), { name: 'x' }))
    expect(await keysOf(user.id)).toBe(0)
  })

  it('the bound is SETTINGS.api_key_max_auth_age_seconds (10: a 20 s old login is refused with max_age=10)', async () => {
    const user = await createUser('mint-setting')
    const SETTINGS = { ...(env.SETTINGS as object), api_key_max_auth_age_seconds: 10 }
    const mint = async (token: string) =>
      fetchWithEnv({ SETTINGS }, '/auth/api-keys', {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'k' }),
      })
    await expectStepUp(await mint(await tokenFor(user, nowSeconds() - 20)), 10)
    expect((await mint(await tokenFor(user, nowSeconds() - 2))).status).toBe(201)
  })
})

describe('a refresh keeps the login time (auth_time unchanged through rotation)', () => {
  it('a refreshed token carries the original auth_time and, within 300 s of the login, can mint', async () => {
    await createUser('mint-refresh-ok')
    const tokens = await login('mint-refresh-ok')
    const original = authTimeOf(tokens.access_token)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 60_000)
    const response = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    })
    expect(response.status).toBe(200)
    const refreshed = (await response.json()) as { access_token: string }
    expect(authTimeOf(refreshed.access_token)).toBe(original)
    expect(decodeJwt(refreshed.access_token).iat).toBeGreaterThan(original as number)
    expect((await requestApiKey(refreshed.access_token, { name: 'k' })).status).toBe(201)
  })

  it('a token refreshed 301 s after the login is refused: a refresh is not a login', async () => {
    const user = await createUser('mint-refresh-old')
    const tokens = await login('mint-refresh-old')
    const original = authTimeOf(tokens.access_token)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + (MAX_AGE + 1) * 1000)
    let refreshToken = tokens.refresh_token ?? ''
    let access = ''
    // Two rotations: the successor of a successor still carries the login time.
    for (let i = 0; i < 2; i++) {
      const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { access_token: string; refresh_token: string }
      refreshToken = body.refresh_token
      access = body.access_token
    }
    expect(authTimeOf(access)).toBe(original)
    await expectStepUp(await requestApiKey(access, { name: 'persist' }))
    expect(await keysOf(user.id)).toBe(0)
    // Signing in again (a new login) is what lets the user mint.
    expect((await requestApiKey((await login('mint-refresh-old')).access_token, { name: 'k' })).status).toBe(
      201,
    )
  })
})

describe('minting checks revocation in D1, not the edge copy', () => {
  it('after logout-all, a token whose KV revocation entry is gone (stale edge) still opens /api but cannot mint', async () => {
    const user = await createUser('mint-revoked')
    const { access_token: victim } = await login('mint-revoked')
    const { access_token: other } = await login('mint-revoked')
    expect((await gatewayFetch('/auth/logout-all', { method: 'POST', headers: bearer(other) })).status).toBe(
      204,
    )
    // A location whose KV has not seen the revocation yet: no revoked:sub entry there.
    await env.KV.delete(revokedSubjectKey(user.id))
    // Past this isolate's 2 s cache of revocation answers, still well within the 300 s login bound.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 3_000)
    expect((await callApi(victim)).status).toBe(200)
    const response = await requestApiKey(victim, { name: 'after-logout-all' })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_token' })
    expect(await keysOf(user.id)).toBe(0)
  })

  it('a subject revoked only in D1 (the edge never saw it) cannot mint', async () => {
    const user = await createUser('mint-d1-only')
    const { access_token } = await login('mint-d1-only')
    await env.DB.prepare('INSERT INTO subject_revocations (subject, not_before_ms) VALUES (?1, ?2)')
      .bind(user.id, Date.now() + 1)
      .run()
    expect((await requestApiKey(access_token, { name: 'x' })).status).toBe(401)
    expect(await keysOf(user.id)).toBe(0)
  })
})
