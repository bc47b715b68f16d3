import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  createClient,
  createUser,
  PASSWORD,
  tokenRequest,
} from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { sha256Hex } from '../crypto/bytes'
import { insertUser } from '../users/store'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
// Our stored format after a rehash (src/users/password-hash-format.ts), at policy iterations.
const OUR_HASH = /^\$pbkdf2-sha256\$v=1\$i=100000,p=([01])\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/

async function errorOf(response: Response): Promise<{ error: string; error_description: string }> {
  return (await response.json()) as { error: string; error_description: string }
}

async function expectError(response: Response, status: number, error: string): Promise<void> {
  expect(response.status).toBe(status)
  expect(response.headers.get('cache-control')).toBe('no-store')
  const body = await errorOf(response)
  expect(body.error).toBe(error)
  expect(typeof body.error_description).toBe('string')
}

async function storedHash(userId: string): Promise<string> {
  const row = await env.DB.prepare('SELECT password_hash FROM users WHERE id = ?1')
    .bind(userId)
    .first<{ password_hash: string }>()
  return row?.password_hash ?? ''
}

function passwordGrant(username: string, password = PASSWORD, extra: Record<string, string> = {}) {
  return tokenRequest({ grant_type: 'password', username, password, ...extra })
}

describe('the password grant', () => {
  it('answers with the RFC 6749 §5.1 body and Cache-Control: no-store', async () => {
    const user = await createUser('te-shape')
    const response = await passwordGrant('te-shape')
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    const body = (await response.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ])
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read' })
    expect(body.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/)
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      sub: user.id,
      scope: 'read',
      roles: ['user'],
    })
  })

  it('rejects a request without username as invalid_request', async () => {
    await expectError(
      await tokenRequest({ grant_type: 'password', password: PASSWORD }),
      400,
      'invalid_request',
    )
  })

  it('rejects a request without password as invalid_request', async () => {
    await createUser('te-no-password')
    await expectError(
      await tokenRequest({ grant_type: 'password', username: 'te-no-password' }),
      400,
      'invalid_request',
    )
  })

  it('rejects a request without grant_type as invalid_request', async () => {
    await expectError(await tokenRequest({ username: 'x', password: PASSWORD }), 400, 'invalid_request')
  })

  it('rejects a JSON body (non-form content type) as invalid_request without issuing a token', async () => {
    await createUser('te-json')
    const response = await gatewayFetch('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', username: 'te-json', password: PASSWORD }),
    })
    await expectError(response, 400, 'invalid_request')
  })

  it('rejects a form body labelled text/plain as invalid_request', async () => {
    await createUser('te-text-plain')
    const response = await gatewayFetch('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'te-text-plain',
        password: PASSWORD,
      }).toString(),
    })
    await expectError(response, 400, 'invalid_request')
  })

  it('rejects a repeated parameter (two usernames) as invalid_request', async () => {
    await createUser('te-repeat-a')
    await createUser('te-repeat-b')
    const response = await gatewayFetch('/auth/token', {
      method: 'POST',
      headers: FORM,
      body: `grant_type=password&username=te-repeat-a&username=te-repeat-b&password=${encodeURIComponent(PASSWORD)}`,
    })
    await expectError(response, 400, 'invalid_request')
  })

  it('rejects a repeated grant_type as invalid_request', async () => {
    const response = await gatewayFetch('/auth/token', {
      method: 'POST',
      headers: FORM,
      body: 'grant_type=password&grant_type=client_credentials&username=x&password=y',
    })
    await expectError(response, 400, 'invalid_request')
  })

  it('rejects an unknown grant type as unsupported_grant_type', async () => {
    await expectError(
      await tokenRequest({ grant_type: 'urn:example:magic', username: 'x', password: 'y' }),
      400,
      'unsupported_grant_type',
    )
  })

  it('gives unknown user, wrong password and disabled account identical status, body and headers', async () => {
    await createUser('te-oracle-wrong')
    const disabled = await createUser('te-oracle-disabled')
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(disabled.id).run()

    const responses = [
      await passwordGrant('te-oracle-nobody'),
      await passwordGrant('te-oracle-wrong', 'not the password at all'),
      await passwordGrant('te-oracle-disabled'),
    ]
    const seen = await Promise.all(
      responses.map(async (response) => {
        const { request_id, ...body } = (await response.json()) as Record<string, unknown>
        expect(request_id).toBe(response.headers.get('x-request-id'))
        const headers = [...response.headers.entries()].filter(([name]) => name !== 'x-request-id')
        return { status: response.status, body, headers }
      }),
    )
    expect(seen[0]?.status).toBe(400)
    expect(seen[0]?.body).toEqual({
      error: 'invalid_grant',
      error_description: 'The username or password is incorrect.',
    })
    expect(seen[1]).toEqual(seen[0])
    expect(seen[2]).toEqual(seen[0])
  })
})

describe('scope on the password grant', () => {
  it('grants requested ∩ role scopes: a user asking "read write" gets "read"', async () => {
    await createUser('te-scope-narrow', ['user'])
    const response = await passwordGrant('te-scope-narrow', PASSWORD, { scope: 'read write' })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { scope: string; access_token: string }
    expect(body.scope).toBe('read')
    expect(decodeJwt(body.access_token).scope).toBe('read')
  })

  it('gives an editor "read write" without a scope request (the role hierarchy counts)', async () => {
    await createUser('te-scope-editor', ['editor'])
    const response = await passwordGrant('te-scope-editor')
    expect(((await response.json()) as { scope: string }).scope).toBe('read write')
  })

  it('refuses a user asking only for "write" (nothing grantable) as invalid_scope', async () => {
    await createUser('te-scope-write', ['user'])
    await expectError(
      await passwordGrant('te-scope-write', PASSWORD, { scope: 'write' }),
      400,
      'invalid_scope',
    )
  })

  it('refuses a user escalating to "admin" scope as invalid_scope', async () => {
    await createUser('te-scope-admin', ['user'])
    await expectError(
      await passwordGrant('te-scope-admin', PASSWORD, { scope: 'admin' }),
      400,
      'invalid_scope',
    )
  })

  for (const scope of ['read "write"', 'read\\admin', 'read\twrite', 'é']) {
    it(`refuses the malformed scope ${JSON.stringify(scope)} as invalid_scope`, async () => {
      await expectError(await passwordGrant('te-scope-malformed', PASSWORD, { scope }), 400, 'invalid_scope')
    })
  }
})

describe('the client_credentials grant', () => {
  const SECRET = 'service-secret-0123456789'

  async function expectClientToken(response: Response, clientId: string, scope: string): Promise<string> {
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Record<string, unknown>
    expect(body.refresh_token).toBeUndefined()
    expect(body.scope).toBe(scope)
    const claims = decodeJwt(String(body.access_token))
    expect(claims.sub).toBe(clientId)
    expect(claims.client_id).toBe(clientId)
    expect(claims.scope).toBe(scope)
    return String(body.access_token)
  }

  it('issues a token for the client itself with Basic auth, scope ∩ client scopes, no refresh token', async () => {
    await createClient('te-svc-basic', { secret: SECRET, scopes: ['read', 'write'] })
    const response = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'read admin' },
      basicAuth('te-svc-basic', SECRET),
    )
    const token = await expectClientToken(response, 'te-svc-basic', 'read')
    const id = testId()
    const proxied = await gatewayFetch('/api/things', { headers: { ...bearer(token), 'x-test-id': id } })
    expect(proxied.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-auth-user-id']).toBe('te-svc-basic')
  })

  it('issues a token with form client auth and all client scopes when none are requested', async () => {
    await createClient('te-svc-form', { secret: SECRET, scopes: ['read', 'write'] })
    const response = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'te-svc-form',
      client_secret: SECRET,
    })
    await expectClientToken(response, 'te-svc-form', 'read write')
  })

  it('refuses a scope the client does not hold as invalid_scope', async () => {
    await createClient('te-svc-scope', { secret: SECRET, scopes: ['read'] })
    await expectError(
      await tokenRequest(
        { grant_type: 'client_credentials', scope: 'admin' },
        basicAuth('te-svc-scope', SECRET),
      ),
      400,
      'invalid_scope',
    )
  })

  async function expectInvalidClient(response: Response): Promise<void> {
    await expectError(response, 401, 'invalid_client')
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="edge-auth-gateway"/)
  }

  it('refuses a wrong secret (Basic) with 401 invalid_client and a Basic challenge', async () => {
    await createClient('te-svc-wrong', { secret: SECRET })
    await expectInvalidClient(
      await tokenRequest({ grant_type: 'client_credentials' }, basicAuth('te-svc-wrong', 'not-the-secret')),
    )
  })

  it('refuses a wrong secret (form) with 401 invalid_client', async () => {
    await createClient('te-svc-wrong-form', { secret: SECRET })
    await expectInvalidClient(
      await tokenRequest({
        grant_type: 'client_credentials',
        client_id: 'te-svc-wrong-form',
        client_secret: 'not-the-secret',
      }),
    )
  })

  it('refuses an unknown client with 401 invalid_client', async () => {
    await expectInvalidClient(
      await tokenRequest({ grant_type: 'client_credentials' }, basicAuth('te-svc-nobody', SECRET)),
    )
  })

  it('refuses a secret presented for a public client with 401 invalid_client', async () => {
    await createClient('te-public-secret', { grantTypes: ['client_credentials'] })
    await expectInvalidClient(
      await tokenRequest({ grant_type: 'client_credentials' }, basicAuth('te-public-secret', 'anything')),
    )
  })

  it('refuses a public client naming itself (no secret) for client_credentials with 401 invalid_client', async () => {
    await createClient('te-public-cc', { grantTypes: ['client_credentials'] })
    await expectInvalidClient(
      await tokenRequest({ grant_type: 'client_credentials', client_id: 'te-public-cc' }),
    )
  })

  it('refuses Basic auth and a form secret together as invalid_request', async () => {
    await createClient('te-svc-both', { secret: SECRET })
    await expectError(
      await tokenRequest(
        { grant_type: 'client_credentials', client_secret: SECRET },
        basicAuth('te-svc-both', SECRET),
      ),
      400,
      'invalid_request',
    )
  })

  it('refuses a client without the client_credentials grant as unauthorized_client', async () => {
    await createClient('te-svc-nogrant', { secret: SECRET, grantTypes: ['refresh_token'] })
    await expectError(
      await tokenRequest({ grant_type: 'client_credentials' }, basicAuth('te-svc-nogrant', SECRET)),
      400,
      'unauthorized_client',
    )
  })

  it('refuses a client without the password grant using it as unauthorized_client', async () => {
    await createUser('te-nogrant-user')
    await createClient('te-svc-nopassword', { secret: SECRET, grantTypes: ['client_credentials'] })
    await expectError(
      await tokenRequest(
        { grant_type: 'password', username: 'te-nogrant-user', password: PASSWORD },
        basicAuth('te-svc-nopassword', SECRET),
      ),
      400,
      'unauthorized_client',
    )
  })
})

describe('the password grant through a public client', () => {
  it('works for a public client_id allowed password and refresh_token, and binds the refresh token to it', async () => {
    await createUser('te-public-user')
    await createClient('te-web', { grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] })
    await createClient('te-other-web', { grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
    const response = await passwordGrant('te-public-user', PASSWORD, { client_id: 'te-web' })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { access_token: string; refresh_token: string; scope: string }
    expect(decodeJwt(body.access_token).client_id).toBe('te-web')
    expect(body.refresh_token).toMatch(/^rt_/)
    const row = await env.DB.prepare('SELECT client_id FROM refresh_tokens WHERE token_hash = ?1')
      .bind(await sha256Hex(body.refresh_token))
      .first<{ client_id: string | null }>()
    expect(row?.client_id).toBe('te-web')

    await expectError(
      await tokenRequest({ grant_type: 'refresh_token', refresh_token: body.refresh_token }),
      400,
      'invalid_grant',
    )
    await expectError(
      await tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        client_id: 'te-other-web',
      }),
      400,
      'invalid_grant',
    )
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
      client_id: 'te-web',
    })
    expect(refreshed.status).toBe(200)
    expect(decodeJwt(((await refreshed.json()) as { access_token: string }).access_token).client_id).toBe(
      'te-web',
    )
  })

  it('gives no refresh token to a public client that may not use the refresh_token grant', async () => {
    await createUser('te-public-norefresh')
    await createClient('te-web-norefresh', { grantTypes: ['password'], scopes: ['read'] })
    const response = await passwordGrant('te-public-norefresh', PASSWORD, { client_id: 'te-web-norefresh' })
    expect(response.status).toBe(200)
    expect(((await response.json()) as { refresh_token?: string }).refresh_token).toBeUndefined()
  })
})

describe('turning the password grant off', () => {
  it('answers unsupported_grant_type when SETTINGS.password_grant is false', async () => {
    await createUser('te-grant-off')
    const settings = env.SETTINGS as Record<string, unknown>
    expect(settings.password_grant).toBe(true)
    const init = () => ({
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ grant_type: 'password', username: 'te-grant-off', password: PASSWORD }),
    })
    const control = await fetchWithEnv({ SETTINGS: { ...settings } }, '/auth/token', init())
    expect(control.status).toBe(200)
    const off = await fetchWithEnv(
      { SETTINGS: { ...settings, password_grant: false } },
      '/auth/token',
      init(),
    )
    await expectError(off, 400, 'unsupported_grant_type')
  })
})

describe('legacy password hashes', () => {
  const expectedPepperFlag = env.PASSWORD_PEPPER ? '1' : '0'

  it('logs in a user with a legacy bcrypt hash and rehashes it to our PBKDF2 format', async () => {
    const legacy = bcrypt.hashSync(PASSWORD, 4)
    expect(legacy).toMatch(/^\$2[aby]\$04\$/)
    const user = await insertUser(env.DB, { username: 'te-bcrypt', passwordHash: legacy, roles: ['user'] })
    if (!user) throw new Error('insert failed')
    const response = await passwordGrant('te-bcrypt')
    expect(response.status).toBe(200)
    const rehashed = await storedHash(user.id)
    expect(rehashed).not.toBe(legacy)
    expect(rehashed).toMatch(OUR_HASH)
    expect(OUR_HASH.exec(rehashed)?.[1]).toBe(expectedPepperFlag)
    expect((await passwordGrant('te-bcrypt')).status).toBe(200)
  })

  it('logs in a user with a passlib pbkdf2_sha256 hash and rehashes it to our PBKDF2 format', async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16))
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(PASSWORD), 'PBKDF2', false, [
      'deriveBits',
    ])
    const derived = new Uint8Array(
      await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 29000 }, key, 256),
    )
    const ab64 = (bytes: Uint8Array) =>
      btoa(String.fromCharCode(...bytes))
        .replace(/=+$/, '')
        .replace(/\+/g, '.')
    const legacy = `$pbkdf2-sha256$29000$${ab64(salt)}$${ab64(derived)}`
    const user = await insertUser(env.DB, { username: 'te-passlib', passwordHash: legacy, roles: ['user'] })
    if (!user) throw new Error('insert failed')
    const response = await passwordGrant('te-passlib')
    expect(response.status).toBe(200)
    const rehashed = await storedHash(user.id)
    expect(rehashed).not.toBe(legacy)
    expect(rehashed).toMatch(OUR_HASH)
    expect(OUR_HASH.exec(rehashed)?.[1]).toBe(expectedPepperFlag)
    expect((await passwordGrant('te-passlib')).status).toBe(200)
  })

  it('refuses a wrong password against a legacy bcrypt hash and keeps the hash', async () => {
    const legacy = bcrypt.hashSync(PASSWORD, 4)
    const user = await insertUser(env.DB, {
      username: 'te-bcrypt-wrong',
      passwordHash: legacy,
      roles: ['user'],
    })
    if (!user) throw new Error('insert failed')
    await expectError(await passwordGrant('te-bcrypt-wrong', 'wrong password here'), 400, 'invalid_grant')
    expect(await storedHash(user.id)).toBe(legacy)
  })
})
