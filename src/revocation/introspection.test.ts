import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  createClient,
  createUser,
  PASSWORD,
  type Tokens,
  tokenRequest,
} from '../../test/support/accounts'
import {
  attackerKeyPair,
  forgeToken,
  nowSeconds,
  signCompact,
  validClaims,
  validHeader,
} from '../../test/support/forge'
import { gatewayFetch } from '../../test/support/gateway'
import { uuidv7 } from '../crypto/uuid7'
import { revokedSubjectKey } from '../db/kv-keys'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const APP = { id: 'in-app', secret: 'in-app-secret-0123456789' }
const OTHER = { id: 'in-other', secret: 'in-other-secret-0123456789' }
const PUBLIC_APP = 'in-public'
const INACTIVE_BODY = '{"active":false}'

type Session = { access: string; refresh: string }
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
  await createUser('in-admin', ['admin'])
})

async function signIn(username: string, client?: Client): Promise<Session> {
  const response = await tokenRequest(
    { grant_type: 'password', username, password: PASSWORD },
    client ? basicAuth(client.id, client.secret) : {},
  )
  expect(response.status).toBe(200)
  const tokens = (await response.json()) as Tokens
  return { access: tokens.access_token, refresh: tokens.refresh_token ?? '' }
}

function postForm(path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return gatewayFetch(path, {
    method: 'POST',
    headers: { ...FORM, ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

function introspect(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return postForm('/auth/introspect', params, headers)
}

const asApp = () => basicAuth(APP.id, APP.secret)

async function expectInactive(response: Response): Promise<void> {
  expect(response.status).toBe(200)
  expect(response.headers.get('cache-control')).toBe('no-store')
  expect(await response.text()).toBe(INACTIVE_BODY)
}

async function expectInvalidClient(response: Response): Promise<void> {
  expect(response.status).toBe(401)
  const body = (await response.json()) as Record<string, unknown>
  expect(body.error).toBe('invalid_client')
  expect(body).not.toHaveProperty('active')
}

describe('POST /auth/introspect of an active token (RFC 7662 §2.2)', () => {
  it('gives a confidential client the claims of an access token issued to it', async () => {
    const user = await createUser('in-claims')
    const session = await signIn('in-claims', APP)
    const claims = decodeJwt(session.access)

    const response = await introspect({ token: session.access }, asApp())
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({
      active: true,
      token_type: 'access_token',
      scope: 'read',
      client_id: APP.id,
      username: 'in-claims',
      sub: user.id,
      roles: ['user'],
      jti: claims.jti,
      exp: claims.exp,
      iss: 'http://gateway.test',
      aud: 'edge-auth-gateway',
    })
  })

  it('gives a confidential client the claims of a refresh token issued to it', async () => {
    const user = await createUser('in-refresh-claims')
    const session = await signIn('in-refresh-claims', APP)
    const response = await introspect({ token: session.refresh, token_type_hint: 'refresh_token' }, asApp())
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      scope: 'read',
      client_id: APP.id,
      username: 'in-refresh-claims',
      sub: user.id,
      iss: 'http://gateway.test',
    })
    expect(body.exp).toBeGreaterThan(nowSeconds())
  })

  it("lets an admin introspect any user's token, including one issued without a client", async () => {
    const user = await createUser('in-admin-target')
    const admin = await signIn('in-admin')
    const target = await signIn('in-admin-target')
    const response = await introspect({ token: target.access }, bearer(admin.access))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ active: true, sub: user.id, token_type: 'access_token' })
  })

  it('does not trust a wrong token_type_hint: each kind is still found', async () => {
    await createUser('in-wrong-hint')
    const session = await signIn('in-wrong-hint', APP)
    const refresh = await introspect({ token: session.refresh, token_type_hint: 'access_token' }, asApp())
    expect(await refresh.json()).toMatchObject({ active: true, token_type: 'refresh_token' })
    const access = await introspect({ token: session.access, token_type_hint: 'refresh_token' }, asApp())
    expect(await access.json()).toMatchObject({ active: true, token_type: 'access_token' })
  })
})

describe('POST /auth/introspect answers exactly {"active":false}', () => {
  it('for a revoked access token', async () => {
    await createUser('in-revoked-access')
    const session = await signIn('in-revoked-access', APP)
    expect((await postForm('/auth/revoke', { token: session.access }, asApp())).status).toBe(200)
    await expectInactive(await introspect({ token: session.access }, asApp()))
  })

  it('for a revoked refresh token and the access token of its session', async () => {
    await createUser('in-revoked-refresh')
    const session = await signIn('in-revoked-refresh', APP)
    expect((await postForm('/auth/revoke', { token: session.refresh }, asApp())).status).toBe(200)
    await expectInactive(await introspect({ token: session.refresh }, asApp()))
    await expectInactive(await introspect({ token: session.access }, asApp()))
  })

  it('for a refresh token that was already used (rotated)', async () => {
    await createUser('in-used-refresh')
    const session = await signIn('in-used-refresh', APP)
    const rotated = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: session.refresh },
      asApp(),
    )
    expect(rotated.status).toBe(200)
    await expectInactive(await introspect({ token: session.refresh }, asApp()))
  })

  it('for an access token that expired beyond the clock skew', async () => {
    const user = await createUser('in-expired')
    const iat = nowSeconds() - 4000
    const token = await forgeToken({
      sub: user.id,
      username: user.username,
      client_id: APP.id,
      jti: uuidv7(iat * 1000),
      iat,
      nbf: iat,
      exp: iat + 900,
    })
    await expectInactive(await introspect({ token }, asApp()))
  })

  it('for unknown tokens: an unissued refresh token, garbage, and a JWT signed by a key we do not hold', async () => {
    const attacker = await attackerKeyPair()
    const foreignSigned = await signCompact(
      validClaims({ client_id: APP.id }),
      validHeader({ kid: 'attacker' }),
      attacker.privateKey,
    )
    for (const token of [`rt_${'B'.repeat(43)}`, 'garbage', foreignSigned]) {
      await expectInactive(await introspect({ token }, asApp()))
    }
  })

  it("for another client's access and refresh tokens (foreign client)", async () => {
    await createUser('in-foreign')
    const session = await signIn('in-foreign', APP)
    const other = basicAuth(OTHER.id, OTHER.secret)
    await expectInactive(await introspect({ token: session.access }, other))
    await expectInactive(await introspect({ token: session.refresh }, other))
    // The same tokens are active for their own client: the answer above is about the caller.
    expect(await (await introspect({ token: session.access }, asApp())).json()).toMatchObject({
      active: true,
    })
  })

  it('for a token issued without any client, asked by a client', async () => {
    await createUser('in-first-party')
    const session = await signIn('in-first-party')
    await expectInactive(await introspect({ token: session.access }, asApp()))
  })

  it('for a token of a user who logged out everywhere, even where KV has no not-valid-before entry', async () => {
    const user = await createUser('in-logged-out')
    const session = await signIn('in-logged-out', APP)
    expect(
      (await gatewayFetch('/auth/logout-all', { method: 'POST', headers: bearer(session.access) })).status,
    ).toBe(204)
    await env.KV.delete(revokedSubjectKey(user.id))
    await expectInactive(await introspect({ token: session.access }, asApp()))
    await expectInactive(await introspect({ token: session.refresh }, asApp()))
  })

  it('for the refresh token of a disabled user', async () => {
    const user = await createUser('in-disabled')
    const session = await signIn('in-disabled', APP)
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await expectInactive(await introspect({ token: session.refresh }, asApp()))
  })
})

describe('POST /auth/introspect refuses callers that do not authenticate as a client or an admin', () => {
  it('no credentials at all is 401 invalid_client, whatever the token', async () => {
    await createUser('in-anonymous')
    const session = await signIn('in-anonymous')
    await expectInvalidClient(await introspect({ token: session.access }))
  })

  it('a wrong client secret is 401 invalid_client', async () => {
    await createUser('in-bad-secret')
    const session = await signIn('in-bad-secret', APP)
    await expectInvalidClient(await introspect({ token: session.access }, basicAuth(APP.id, 'wrong')))
  })

  it('a public client that only names its client_id is 401 invalid_client', async () => {
    await createUser('in-public-user')
    const response = await tokenRequest({
      grant_type: 'password',
      username: 'in-public-user',
      password: PASSWORD,
      client_id: PUBLIC_APP,
    })
    const tokens = (await response.json()) as Tokens
    await expectInvalidClient(await introspect({ token: tokens.access_token, client_id: PUBLIC_APP }))
  })

  it('a non-admin user is 401 invalid_client, even for their own token', async () => {
    await createUser('in-plain-user')
    const session = await signIn('in-plain-user')
    await expectInvalidClient(await introspect({ token: session.access }, bearer(session.access)))
  })

  it('an admin whose own access token was revoked is 401 invalid_client', async () => {
    await createUser('in-revoked-admin', ['admin'])
    await createUser('in-revoked-admin-target')
    const admin = await signIn('in-revoked-admin')
    const target = await signIn('in-revoked-admin-target')
    expect(
      (await gatewayFetch('/auth/logout', { method: 'POST', headers: bearer(admin.access) })).status,
    ).toBe(204)
    await expectInvalidClient(await introspect({ token: target.access }, bearer(admin.access)))
  })

  it('a request without the token parameter is 400 invalid_request', async () => {
    const response = await introspect({}, asApp())
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })
})
