import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login, PASSWORD, type Tokens, tokenRequest } from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch } from '../../test/support/gateway'
import { settingsSchema } from '../config/schema'
import { findUserByUsername } from '../users/store'

const JSON_TYPE = { 'content-type': 'application/json' }
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' }
const SETTINGS = settingsSchema.parse(env.SETTINGS ?? {})

interface ErrorBody {
  error: string
  error_description: string
  request_id: string
}

function register(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch('/auth/register', {
    method: 'POST',
    headers: { ...JSON_TYPE, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

function postJson(path: string, token: string, body?: unknown): Promise<Response> {
  return gatewayFetch(path, {
    method: 'POST',
    headers: { ...bearer(token), ...JSON_TYPE },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function apiStatus(accessToken: string): Promise<number> {
  const response = await gatewayFetch('/api/things', { headers: bearer(accessToken) })
  await response.body?.cancel()
  return response.status
}

function refresh(refreshToken: string): Promise<Response> {
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken })
}

async function loginStatus(username: string, password: string): Promise<number> {
  const response = await tokenRequest({ grant_type: 'password', username, password })
  await response.body?.cancel()
  return response.status
}

type Session = Required<Pick<Tokens, 'access_token' | 'refresh_token'>>

async function session(username: string, password = PASSWORD): Promise<Session> {
  const tokens = await login(username, password)
  if (!tokens.refresh_token) throw new Error('no refresh token')
  return { access_token: tokens.access_token, refresh_token: tokens.refresh_token }
}

describe('POST /auth/register', () => {
  it('creates a user from JSON and answers 201 {id, username}; the user can log in', async () => {
    const response = await register({ username: 'reg-json', password: PASSWORD })
    expect(response.status).toBe(201)
    const body = (await response.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['id', 'username'])
    expect(body.username).toBe('reg-json')
    const stored = await findUserByUsername(env.DB, 'reg-json')
    expect(stored?.id).toBe(body.id)
    expect(stored?.roles).toEqual(SETTINGS.default_roles)
    expect(await loginStatus('reg-json', PASSWORD)).toBe(200)
  })

  it('creates a user from an application/x-www-form-urlencoded body', async () => {
    const response = await gatewayFetch('/auth/register', {
      method: 'POST',
      headers: FORM_TYPE,
      body: new URLSearchParams({ username: 'reg-form', password: PASSWORD }).toString(),
    })
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ username: 'reg-form' })
    expect(await loginStatus('reg-form', PASSWORD)).toBe(200)
  })

  it('answers 409 for a username taken in another case (Alice after alice)', async () => {
    expect((await register({ username: 'reg-alice', password: PASSWORD })).status).toBe(201)
    const duplicate = await register({ username: 'Reg-Alice', password: 'another fine passphrase' })
    expect(duplicate.status).toBe(409)
    expect(await duplicate.json()).toMatchObject({ error: 'conflict' })
    // The first account keeps its password.
    expect(await loginStatus('reg-alice', PASSWORD)).toBe(200)
    expect(await loginStatus('reg-alice', 'another fine passphrase')).toBe(400)
  })

  it.each([
    ['a common password', 'password', /too common/],
    ['a common password in another case', 'PassWord1', /too common/],
    ['the username as password', 'reg-weak-user', /must not be the username/],
    ['7 characters', 'Xk9#mQ2', /at least 8 characters/],
    ['129 characters', `${'x7'.repeat(64)}y`, /at most 128 characters/],
    ['7 emoji (7 code points, 14 UTF-16 units)', '🔐🦄🌈🐙🍀🎲🚀', /at least 8 characters/],
  ])('refuses %s with 400 and a description that says why', async (_, password, reason) => {
    const response = await register({ username: 'reg-weak-user', password })
    expect(response.status).toBe(400)
    const body = (await response.json()) as ErrorBody
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toMatch(reason)
    expect(body.error_description).not.toContain(password)
    expect(await findUserByUsername(env.DB, 'reg-weak-user')).toBeUndefined()
  })

  it.each([
    ['exactly 8 characters', 'reg-len8', 'Vq8#zLp2'],
    ['exactly 128 characters', 'reg-len128', 'x7'.repeat(64)],
    ['8 emoji', 'reg-emoji', '🔐🦄🌈🐙🍀🎲🚀🧩'],
    ['spaces and non-Latin letters', 'reg-unicode', 'пароль с пробелами ünd ñ'],
  ])('accepts a password of %s, and it logs in', async (_, username, password) => {
    const response = await register({ username, password })
    expect(response.status).toBe(201)
    expect(await loginStatus(username, password)).toBe(200)
  })

  it.each([
    ['too short', 'ab'],
    ['too long', `a${'b'.repeat(64)}`],
    ['with a space', 'al ice'],
    ['starting with a dash', '-alice'],
    ['with a quote (SQL injection)', "a'); DROP TABLE users; --"],
    ['with a newline (header injection)', 'alice\r\nx-auth-roles: admin'],
    ['not a string', 12345],
  ])('refuses a username %s with 400', async (_, username) => {
    const response = await register({ username, password: PASSWORD })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('answers 403 registration_disabled when registration is turned off, and creates nothing', async () => {
    const settings = { ...(env.SETTINGS as Record<string, unknown>), registration: false }
    const response = await fetchWithEnv({ SETTINGS: settings, REGISTRATION: undefined }, '/auth/register', {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ username: 'reg-off', password: PASSWORD }),
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'registration_disabled' })
    expect(await findUserByUsername(env.DB, 'reg-off')).toBeUndefined()
  })

  it.each([
    ['malformed JSON', JSON_TYPE, '{"username": "reg-bad", "password": '],
    ['a JSON array', JSON_TYPE, '["reg-bad", "a fine passphrase"]'],
    ['JSON null', JSON_TYPE, 'null'],
    ['a JSON string', JSON_TYPE, '"reg-bad"'],
    ['an empty body', JSON_TYPE, ''],
    ['a missing password', JSON_TYPE, '{"username": "reg-bad"}'],
    ['a numeric password', JSON_TYPE, '{"username": "reg-bad", "password": 12345678}'],
    ['text/plain', { 'content-type': 'text/plain' }, 'username=reg-bad&password=a+fine+passphrase'],
    ['no content type', {}, '{"username": "reg-bad", "password": "a fine passphrase"}'],
    ['invalid UTF-8', JSON_TYPE, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
  ])('answers 400 (never 500) for %s', async (_, headers, body) => {
    const response = await gatewayFetch('/auth/register', { method: 'POST', headers, body })
    expect(response.status).toBe(400)
    const parsed = (await response.json()) as ErrorBody
    expect(parsed.error).toBe('invalid_request')
    expect(parsed.error_description.length).toBeGreaterThan(0)
  })

  it('throttles registration per CF-Connecting-IP with 429 and Retry-After after the configured limit', async () => {
    const limit = SETTINGS.throttle.register_per_ip_per_window
    const ip = { 'cf-connecting-ip': '203.0.113.77' }
    // Every attempt counts, failed ones too (cheap ones here: a refused password needs no hashing).
    for (let attempt = 0; attempt < limit; attempt++) {
      const response = await register({ username: `reg-flood-${attempt}`, password: 'short' }, ip)
      expect(response.status).toBe(400)
    }
    const throttled = await register({ username: 'reg-flood-ok', password: PASSWORD }, ip)
    expect(throttled.status).toBe(429)
    expect(await throttled.json()).toMatchObject({ error: 'rate_limited' })
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await findUserByUsername(env.DB, 'reg-flood-ok')).toBeUndefined()

    const otherIp = await register(
      { username: 'reg-flood-ok', password: PASSWORD },
      { 'cf-connecting-ip': '203.0.113.78' },
    )
    expect(otherIp.status).toBe(201)
  })
})

describe('GET /auth/me', () => {
  it('returns the id, username, roles, scopes and auth_method jwt of the bearer', async () => {
    const user = await createUser('me-editor', ['editor'])
    const tokens = await login('me-editor')
    const response = await gatewayFetch('/auth/me', { headers: bearer(tokens.access_token) })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({
      id: user.id,
      username: 'me-editor',
      roles: ['editor'],
      scopes: tokens.scope.split(' '),
      auth_method: 'jwt',
    })
  })

  it('answers 401 with a Bearer challenge without a token', async () => {
    const response = await gatewayFetch('/auth/me')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /)
  })
})

describe('POST /auth/password', () => {
  const NEW_PASSWORD = 'a brand new passphrase'

  it('answers 401 for a wrong current password and leaves the password unchanged', async () => {
    await createUser('pw-wrong')
    const tokens = await session('pw-wrong')
    const response = await postJson('/auth/password', tokens.access_token, {
      current_password: 'not the password',
      new_password: NEW_PASSWORD,
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_credentials' })
    expect(await loginStatus('pw-wrong', PASSWORD)).toBe(200)
    expect(await loginStatus('pw-wrong', NEW_PASSWORD)).toBe(400)
    expect(await apiStatus(tokens.access_token)).toBe(200)
  })

  it('refuses a weak new password with 400 and keeps the session', async () => {
    await createUser('pw-weak')
    const tokens = await session('pw-weak')
    const response = await postJson('/auth/password', tokens.access_token, {
      current_password: PASSWORD,
      new_password: 'password',
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as ErrorBody).error_description).toMatch(/too common/)
    expect(await loginStatus('pw-weak', PASSWORD)).toBe(200)
    expect(await apiStatus(tokens.access_token)).toBe(200)
  })

  it('changes the password, returns a new token pair and ends the old session (access and refresh)', async () => {
    await createUser('pw-change')
    const old = await session('pw-change')
    expect(await apiStatus(old.access_token)).toBe(200)

    const response = await postJson('/auth/password', old.access_token, {
      current_password: PASSWORD,
      new_password: NEW_PASSWORD,
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const fresh = (await response.json()) as Tokens
    expect(fresh.token_type).toBe('Bearer')
    expect(fresh.access_token).not.toBe(old.access_token)
    expect(fresh.refresh_token).toMatch(/^rt_/)
    expect(fresh.refresh_token).not.toBe(old.refresh_token)

    expect(await apiStatus(old.access_token)).toBe(401)
    const oldRefresh = await refresh(old.refresh_token)
    expect(oldRefresh.status).toBe(400)
    expect(await oldRefresh.json()).toMatchObject({ error: 'invalid_grant' })

    expect(await apiStatus(fresh.access_token)).toBe(200)
    const newRefresh = await refresh(fresh.refresh_token as string)
    expect(newRefresh.status).toBe(200)

    expect(await loginStatus('pw-change', NEW_PASSWORD)).toBe(200)
    expect(await loginStatus('pw-change', PASSWORD)).toBe(400)
  })

  it('accepts a form body too', async () => {
    await createUser('pw-form')
    const tokens = await session('pw-form')
    const response = await gatewayFetch('/auth/password', {
      method: 'POST',
      headers: { ...bearer(tokens.access_token), ...FORM_TYPE },
      body: new URLSearchParams({ current_password: PASSWORD, new_password: NEW_PASSWORD }).toString(),
    })
    expect(response.status).toBe(200)
    expect(await loginStatus('pw-form', NEW_PASSWORD)).toBe(200)
  })

  it('answers 401 without a bearer token and changes nothing', async () => {
    await createUser('pw-anon')
    const response = await gatewayFetch('/auth/password', {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ current_password: PASSWORD, new_password: NEW_PASSWORD }),
    })
    expect(response.status).toBe(401)
    expect(await loginStatus('pw-anon', PASSWORD)).toBe(200)
  })
})

describe('POST /auth/logout and /auth/logout-all', () => {
  it('logout ends this session (its access and refresh token) but not another session of the user', async () => {
    await createUser('lo-one')
    const here = await session('lo-one')
    const elsewhere = await session('lo-one')
    expect(await apiStatus(here.access_token)).toBe(200)
    expect(await apiStatus(elsewhere.access_token)).toBe(200)

    const response = await postJson('/auth/logout', here.access_token)
    expect(response.status).toBe(204)

    expect(await apiStatus(here.access_token)).toBe(401)
    const hereRefresh = await refresh(here.refresh_token)
    expect(hereRefresh.status).toBe(400)
    expect(await hereRefresh.json()).toMatchObject({ error: 'invalid_grant' })

    expect(await apiStatus(elsewhere.access_token)).toBe(200)
    expect((await refresh(elsewhere.refresh_token)).status).toBe(200)
  })

  it('logout-all ends every session of the user, and the user can log in again', async () => {
    await createUser('lo-all')
    const first = await session('lo-all')
    const second = await session('lo-all')
    expect(await apiStatus(first.access_token)).toBe(200)
    expect(await apiStatus(second.access_token)).toBe(200)

    const response = await postJson('/auth/logout-all', second.access_token)
    expect(response.status).toBe(204)

    for (const ended of [first, second]) {
      expect(await apiStatus(ended.access_token)).toBe(401)
      const refreshed = await refresh(ended.refresh_token)
      expect(refreshed.status).toBe(400)
      expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' })
    }
    const again = await session('lo-all')
    expect(await apiStatus(again.access_token)).toBe(200)
  })

  it('logout-all of one user leaves another user signed in', async () => {
    await createUser('lo-mine')
    await createUser('lo-theirs')
    const mine = await session('lo-mine')
    const theirs = await session('lo-theirs')
    expect((await postJson('/auth/logout-all', mine.access_token)).status).toBe(204)
    expect(await apiStatus(theirs.access_token)).toBe(200)
    expect((await refresh(theirs.refresh_token)).status).toBe(200)
  })
})
