import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  bearer,
  callApi,
  createUser,
  login,
  PASSWORD,
  type Tokens,
  tokenRequest,
} from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch } from '../../test/support/gateway'
import { revokedRowInD1 } from '../../test/support/storage-spies'
import { revokedSubjectKey } from '../db/kv-keys'
import { revokeSubject } from '../sessions/revoke-subject'

const STRICT_ROUTES = [{ path: '/api', upstream: 'UPSTREAM_URL', revocation: 'strict' }]
const ACCEPTED = { status: 200, forwarded: 1 }
const REJECTED = { status: 401, forwarded: 0 }
const NEW_PASSWORD = 'a different horse, battery and staple'

type Session = { access: string; refresh: string }

async function signIn(username: string, password = PASSWORD): Promise<Session> {
  const tokens = await login(username, password)
  if (!tokens.refresh_token) throw new Error('no refresh token')
  return { access: tokens.access_token, refresh: tokens.refresh_token }
}

/** The status of a refresh-token grant (200, or 400 invalid_grant for a dead token). */
async function refreshStatus(refreshToken: string): Promise<number> {
  const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken })
  if (response.status !== 200) expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
  return response.status
}

function post(path: string, token: string, body?: Record<string, string>): Promise<Response> {
  return gatewayFetch(path, {
    method: 'POST',
    headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
}

async function expectSessionDead(session: Session): Promise<void> {
  expect(await callApi(session.access)).toEqual(REJECTED)
  expect(await refreshStatus(session.refresh)).toBe(400)
}

async function expectSessionAlive(session: Session): Promise<void> {
  expect(await callApi(session.access)).toEqual(ACCEPTED)
  expect(await refreshStatus(session.refresh)).toBe(200)
}

describe('POST /auth/logout ends this session', () => {
  it('answers 204; the presented access token and its refresh token stop working at once', async () => {
    await createUser('lo-this')
    const session = await signIn('lo-this')
    expect(await callApi(session.access)).toEqual(ACCEPTED)

    const response = await post('/auth/logout', session.access)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')

    await expectSessionDead(session)
    expect(await revokedRowInD1(env.DB, session.access)).not.toBeNull()
  })

  it('also denies access tokens issued earlier in the same session (before a refresh)', async () => {
    await createUser('lo-refreshed')
    const first = await signIn('lo-refreshed')
    const rotated = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh })
    expect(rotated.status).toBe(200)
    const second = (await rotated.json()) as Tokens
    expect(await callApi(first.access)).toEqual(ACCEPTED)

    expect((await post('/auth/logout', second.access_token)).status).toBe(204)

    expect(await callApi(first.access)).toEqual(REJECTED)
    expect(await callApi(second.access_token)).toEqual(REJECTED)
    expect(await refreshStatus(second.refresh_token ?? '')).toBe(400)
  })

  it("leaves the caller's other sessions working", async () => {
    await createUser('lo-other-session')
    const ended = await signIn('lo-other-session')
    const kept = await signIn('lo-other-session')
    expect((await post('/auth/logout', ended.access)).status).toBe(204)
    await expectSessionDead(ended)
    await expectSessionAlive(kept)
  })

  it('without an access token is 401 and ends nothing', async () => {
    await createUser('lo-anonymous')
    const session = await signIn('lo-anonymous')
    const response = await gatewayFetch('/auth/logout', { method: 'POST' })
    expect(response.status).toBe(401)
    await expectSessionAlive(session)
  })
})

describe('POST /auth/logout-all ends every session of the caller', () => {
  it('kills the existing access and refresh tokens of every session', async () => {
    const user = await createUser('lo-all')
    const one = await signIn('lo-all')
    const two = await signIn('lo-all')
    expect(await callApi(one.access)).toEqual(ACCEPTED)
    expect(await callApi(two.access)).toEqual(ACCEPTED)

    const response = await post('/auth/logout-all', one.access)
    expect(response.status).toBe(204)

    await expectSessionDead(one)
    await expectSessionDead(two)
    const row = await env.DB.prepare('SELECT not_before_ms FROM subject_revocations WHERE subject = ?1')
      .bind(user.id)
      .first<{ not_before_ms: number }>()
    expect(row?.not_before_ms).toBeGreaterThan(0)
    expect(await env.KV.get(revokedSubjectKey(user.id))).toBe(String(row?.not_before_ms))
  })

  it('lets the user sign in again afterwards: only tokens issued before it are void', async () => {
    await createUser('lo-all-again')
    const before = await signIn('lo-all-again')
    expect((await post('/auth/logout-all', before.access)).status).toBe(204)
    const after = await signIn('lo-all-again')
    await expectSessionAlive(after)
    expect(await callApi(before.access)).toEqual(REJECTED)
  })

  it('leaves the sessions of other users alone', async () => {
    await createUser('lo-all-caller')
    await createUser('lo-all-bystander')
    const caller = await signIn('lo-all-caller')
    const bystander = await signIn('lo-all-bystander')
    expect((await post('/auth/logout-all', caller.access)).status).toBe(204)
    await expectSessionAlive(bystander)
  })

  it('reaches a strict route through D1 even where the KV not-valid-before entry is absent (another location)', async () => {
    const user = await createUser('lo-all-strict')
    const session = await signIn('lo-all-strict')
    expect((await post('/auth/logout-all', session.access)).status).toBe(204)
    await env.KV.delete(revokedSubjectKey(user.id))
    const strict = (path: string, init: RequestInit) => fetchWithEnv({ ROUTES: STRICT_ROUTES }, path, init)
    expect(await callApi(session.access, strict)).toEqual(REJECTED)
  })
})

describe('changing the password ends every session', () => {
  it('kills existing access and refresh tokens of all sessions and returns a working new session', async () => {
    await createUser('lo-password')
    const one = await signIn('lo-password')
    const two = await signIn('lo-password')

    const response = await post('/auth/password', one.access, {
      current_password: PASSWORD,
      new_password: NEW_PASSWORD,
    })
    expect(response.status).toBe(200)
    const fresh = (await response.json()) as Tokens

    await expectSessionDead(one)
    await expectSessionDead(two)
    await expectSessionAlive({ access: fresh.access_token, refresh: fresh.refresh_token ?? '' })
    await expect(signIn('lo-password')).rejects.toThrow(/login failed/)
    await expectSessionAlive(await signIn('lo-password', NEW_PASSWORD))
  })

  it('with a wrong current password changes nothing and ends nothing', async () => {
    await createUser('lo-password-wrong')
    const session = await signIn('lo-password-wrong')
    const response = await post('/auth/password', session.access, {
      current_password: 'not the password at all',
      new_password: NEW_PASSWORD,
    })
    expect(response.status).toBe(401)
    await expectSessionAlive(session)
  })
})

describe('disabling a user ends every session', () => {
  it('disabled = 1 plus revokeSubject (what the operator CLI and the admin API do) kills access and refresh tokens', async () => {
    const user = await createUser('lo-disabled')
    const session = await signIn('lo-disabled')
    expect(await callApi(session.access)).toEqual(ACCEPTED)

    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await revokeSubject(env, user.id, 900)

    await expectSessionDead(session)
    await expect(signIn('lo-disabled')).rejects.toThrow(/login failed/)
  })
})
