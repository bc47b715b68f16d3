/**
 * Delegated tokens (issue 19): a token an app obtained with the user's consent can do exactly what
 * the consent page said. Its roles are the user's ∩ the client's allowed_roles ∩ what the user
 * approved; it cannot manage the account or the gateway; it keeps proxied routes, userinfo, /auth/me
 * and revoking its own client's tokens. Each case names the attack it stops.
 */
import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  basicAuth,
  bearer,
  createClient,
  createUser,
  login,
  PASSWORD,
  tokenRequest,
} from '../../test/support/accounts'
import { adminFetch, adminToken, waitForAudit } from '../../test/support/admin'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { browserLogin, sameOrigin } from '../../test/support/sessions'
import { recordGrant } from './consent'

interface AppOptions {
  allowedRoles?: string[]
  /** Roles the user approved on the consent page (default: what the app may act with). */
  consentedRoles?: string[]
  firstParty?: boolean
  scopes?: string[]
}

/** A code-flow token of a fresh public client for `userId`, through the real token endpoint. */
async function appToken(clientId: string, userId: string, options: AppOptions = {}): Promise<CodeTokens> {
  await createCodeClient(clientId, {
    allowedRoles: options.allowedRoles ?? [],
    firstParty: options.firstParty ?? false,
  })
  const scopes = options.scopes ?? ['openid', 'read']
  await recordGrant(env.DB, {
    userId,
    clientId,
    scopes,
    roles: options.consentedRoles ?? ['admin', 'editor', 'user'],
  })
  const response = await exchangeCode(clientId, await issueCode(clientId, userId, { scopes }))
  expect(response.status).toBe(200)
  return (await response.json()) as CodeTokens
}

function refresh(clientId: string, refreshToken: string): Promise<Response> {
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId })
}

/** A proxied call: its status and what the upstream received. */
async function proxied(path: string, token: string) {
  const id = testId()
  const response = await gatewayFetch(path, { headers: { ...bearer(token), 'x-test-id': id } })
  await response.arrayBuffer()
  return { status: response.status, received: await upstreamReceived(id) }
}

describe('what a delegated token carries', () => {
  it('an admin consenting to openid gives the app a token with no role and no first_party claim (the review’s hole)', async () => {
    const admin = await createUser('dt-admin-openid', ['admin'])
    const tokens = await appToken('dt-thirdparty', admin.id, { scopes: ['openid'] })
    const claims = decodeJwt(tokens.access_token)
    expect(claims).toMatchObject({ scope: 'openid', roles: [], client_id: 'dt-thirdparty' })
    expect(claims.first_party).toBeUndefined()
    expect((await proxied('/api/admin/x', tokens.access_token)).status).toBe(403)
  })

  it('caps an admin at the roles the app may act with, and at what the user approved', async () => {
    const admin = await createUser('dt-admin-editor', ['admin'])
    const asEditor = await appToken('dt-editor-app', admin.id, { allowedRoles: ['editor'] })
    expect(decodeJwt(asEditor.access_token).roles).toEqual(['editor', 'user'])
    const call = await proxied('/api/admin/x', asEditor.access_token)
    expect(call).toEqual({ status: 403, received: [] })
    const approvedLess = await appToken('dt-editor-app-2', admin.id, {
      allowedRoles: ['editor'],
      consentedRoles: ['user'],
    })
    expect(decodeJwt(approvedLess.access_token).roles).toEqual(['user'])
  })

  it('gives a first_party client’s token the user’s roles and the first_party claim', async () => {
    const admin = await createUser('dt-admin-fp', ['admin'])
    const tokens = await appToken('dt-own-app', admin.id, { firstParty: true, consentedRoles: [] })
    expect(decodeJwt(tokens.access_token)).toMatchObject({ roles: ['admin'], first_party: true })
    expect((await adminFetch(tokens.access_token, 'GET', '/admin/users')).status).toBe(200)
  })

  it('recomputes roles at each refresh: a role taken from the user leaves the app’s next token', async () => {
    const user = await createUser('dt-demoted', ['editor'])
    const first = await appToken('dt-refresh-app', user.id, { allowedRoles: ['editor'] })
    expect(decodeJwt(first.access_token).roles).toEqual(['editor', 'user'])
    await env.DB.prepare(`UPDATE users SET roles = '["user"]' WHERE id = ?1`).bind(user.id).run()
    const next = await refresh('dt-refresh-app', first.refresh_token as string)
    expect(next.status).toBe(200)
    const claims = decodeJwt(((await next.json()) as CodeTokens).access_token)
    expect(claims.roles).toEqual(['user'])
    expect(claims.first_party).toBeUndefined()
  })

  it('does not follow an operator widening allowed_roles after the consent (the user never approved admin)', async () => {
    const admin = await createUser('dt-widened', ['admin'])
    const first = await appToken('dt-widened-app', admin.id, {
      allowedRoles: ['editor'],
      consentedRoles: ['editor', 'user'],
    })
    await env.DB.prepare(`UPDATE oauth_clients SET allowed_roles = '["admin"]' WHERE client_id = ?1`)
      .bind('dt-widened-app')
      .run()
    const next = await refresh('dt-widened-app', first.refresh_token as string)
    expect(decodeJwt(((await next.json()) as CodeTokens).access_token).roles).toEqual(['editor', 'user'])
  })

  it('makes a refresh family first-party only while its client is first_party (the flag wins over the grant)', async () => {
    const admin = await createUser('dt-unmarked', ['admin'])
    const first = await appToken('dt-unmarked-app', admin.id, { firstParty: true, consentedRoles: [] })
    await env.DB.prepare('UPDATE oauth_clients SET first_party = 0 WHERE client_id = ?1')
      .bind('dt-unmarked-app')
      .run()
    const next = await refresh('dt-unmarked-app', first.refresh_token as string)
    const claims = decodeJwt(((await next.json()) as CodeTokens).access_token)
    expect(claims.roles).toEqual([])
    expect(claims.first_party).toBeUndefined()
  })

  it('refuses the password grant through a client the operator did not mark first_party (unauthorized_client)', async () => {
    await createUser('dt-pw-user', ['admin'])
    await createClient('dt-pw-thirdparty', { grantTypes: ['password', 'refresh_token'], firstParty: false })
    const response = await tokenRequest({
      grant_type: 'password',
      username: 'dt-pw-user',
      password: PASSWORD,
      client_id: 'dt-pw-thirdparty',
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unauthorized_client' })
    const own = await login('dt-pw-user')
    expect(decodeJwt(own.access_token)).toMatchObject({ first_party: true, roles: ['admin'] })
  })

  it('makes a client_credentials token first-party only if its client is', async () => {
    await createClient('dt-svc', { secret: 'dt-svc-secret', roles: ['admin'] })
    await createClient('dt-own-svc', { secret: 'dt-own-svc-secret', roles: ['admin'], firstParty: true })
    const tokenOf = async (id: string, secret: string) => {
      const response = await tokenRequest({ grant_type: 'client_credentials' }, basicAuth(id, secret))
      return ((await response.json()) as CodeTokens).access_token
    }
    const thirdParty = await tokenOf('dt-svc', 'dt-svc-secret')
    expect(decodeJwt(thirdParty).first_party).toBeUndefined()
    expect((await adminFetch(thirdParty, 'GET', '/admin/users')).status).toBe(403)
    const own = await tokenOf('dt-own-svc', 'dt-own-svc-secret')
    expect(decodeJwt(own).first_party).toBe(true)
    expect((await adminFetch(own, 'GET', '/admin/users')).status).toBe(200)
  })

  it('sends upstream an assertion naming the app (client_id and azp), and none for the user’s own token', async () => {
    const user = await createUser('dt-assertion')
    const tokens = await appToken('dt-assertion-app', user.id)
    const call = await proxied('/api/things', tokens.access_token)
    expect(call.status).toBe(200)
    const assertion = decodeJwt(String(call.received[0]?.headers['x-auth-assertion']))
    expect(assertion).toMatchObject({ sub: user.id, client_id: 'dt-assertion-app', azp: 'dt-assertion-app' })
    const own = await proxied('/api/things', (await login('dt-assertion')).access_token)
    expect(decodeJwt(String(own.received[0]?.headers['x-auth-assertion'])).azp).toBeUndefined()
  })
})

describe('the account-managing endpoints refuse a delegated token', () => {
  // Every endpoint the contract lists; ids are filled in per user.
  function endpoints(userId: string): [string, string, unknown?][] {
    return [
      ['POST', '/admin/users', { username: 'dt-minted-admin', password: PASSWORD, roles: ['admin'] }],
      ['POST', '/admin/clients', { client_id: 'dt-minted-client', skip_consent: true, scopes: ['admin'] }],
      ['GET', '/admin/audit'],
      ['POST', '/admin/explain', { method: 'GET', path: '/api/x' }],
      ['GET', `/admin/users/${userId}/sessions`],
      ['GET', '/admin'],
      ['POST', '/auth/api-keys', { name: 'dt-stolen', expires_in: 365 * 86_400 }],
      ['GET', '/auth/api-keys'],
      ['DELETE', '/auth/api-keys/0123456789abcdef'],
      ['GET', '/auth/sessions'],
      ['DELETE', '/auth/sessions/0190a3b0-0000-7000-8000-000000000000'],
      ['POST', '/auth/logout-all'],
      ['POST', '/auth/password', { current_password: PASSWORD, new_password: 'a much newer passphrase 42' }],
      ['GET', '/auth/identities'],
      ['DELETE', '/auth/identities/github'],
      ['GET', '/auth/grants'],
      ['DELETE', '/auth/grants/dt-matrix-app'],
      // Passkeys and second factors (issue 22): an app may not add a way in or take one away.
      ['GET', '/auth/passkeys'],
      ['POST', '/auth/passkeys/registration-options', {}],
      ['PATCH', '/auth/passkeys/0190a3b0-0000-7000-8000-000000000000', { name: 'renamed by an app' }],
      ['DELETE', '/auth/passkeys/0190a3b0-0000-7000-8000-000000000000'],
      ['GET', `/admin/users/${userId}/passkeys`],
      ['POST', `/admin/users/${userId}/reset-factors`],
    ]
  }

  it('finds no one at the cookie-only second-factor and account email endpoints: a bearer token, delegated or not, is not read there', async () => {
    const user = await createUser('dt-second-factor')
    const tokens = await appToken('dt-second-factor-app', user.id)
    for (const [method, path] of [
      ['GET', '/auth/second-factor/setup'],
      ['POST', '/auth/second-factor/remove'],
      ['POST', '/auth/second-factor/recovery-codes'],
      ['POST', '/auth/passkeys/second-factor-options'],
      // The account page's email forms: an app may not move the address a reset link goes to.
      ['POST', '/auth/account/email'],
      ['POST', '/auth/account/email/verification'],
    ] as const) {
      const response = await adminFetch(tokens.access_token, method, path, method === 'POST' ? {} : undefined)
      // The login page (302/303), or 401/403: never the page or an answer for the token's user.
      expect([302, 303, 401, 403], `${method} ${path}`).toContain(response.status)
    }
  })

  it('answers 403 insufficient_scope everywhere, changes nothing, and audits each refusal', async () => {
    const admin = await createUser('dt-matrix-admin', ['admin'])
    const session = await browserLogin('dt-matrix-admin')
    // Even an app the operator allowed to act as admin, approved by the admin, is not the admin.
    const tokens = await appToken('dt-matrix-app', admin.id, { allowedRoles: ['admin'] })
    expect(decodeJwt(tokens.access_token).roles).toEqual(['admin', 'editor', 'user'])
    for (const [method, path, body] of endpoints(admin.id)) {
      const response = await adminFetch(tokens.access_token, method, path, body)
      expect(response.status, `${method} ${path}`).toBe(403)
      const error = (await response.json()) as { error: string; error_description: string }
      expect(error.error, `${method} ${path}`).toBe('insufficient_scope')
      expect(error.error_description).toContain('app')
      expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    }
    // Nothing happened: no admin, no client, no key, the browser session and the password live on.
    const own = (await login('dt-matrix-admin')).access_token
    const users = (await (await adminFetch(own, 'GET', '/admin/users')).json()) as {
      items: { username: string }[]
    }
    expect(users.items.map((user) => user.username)).not.toContain('dt-minted-admin')
    const clients = (await (await adminFetch(own, 'GET', '/admin/clients')).json()) as {
      items: { client_id: string }[]
    }
    expect(clients.items.map((client) => client.client_id)).not.toContain('dt-minted-client')
    const keys = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?1')
      .bind(admin.id)
      .first<{ n: number }>()
    expect(keys?.n).toBe(0)
    const me = await gatewayFetch('/auth/sessions', {
      headers: { ...sameOrigin(session), accept: 'application/json' },
    })
    expect(me.status).toBe(200)
    const refused = await waitForAudit(
      (event) => event.type === 'delegated_token_refused' && event.details.path === '/auth/logout-all',
    )
    expect(refused).toMatchObject({ outcome: 'failure', actor_id: admin.id, client_id: 'dt-matrix-app' })
  })

  it('refuses a plain user’s app the user’s sessions and logout-all (the browser session survives)', async () => {
    const user = await createUser('dt-plain')
    const session = await browserLogin('dt-plain')
    const tokens = await appToken('dt-plain-app', user.id)
    const list = await gatewayFetch('/auth/sessions', { headers: bearer(tokens.access_token) })
    expect(list.status).toBe(403)
    expect(await list.json()).toMatchObject({ error: 'insufficient_scope' })
    const logoutAll = await gatewayFetch('/auth/logout-all', {
      method: 'POST',
      headers: bearer(tokens.access_token),
    })
    expect(logoutAll.status).toBe(403)
    const still = await gatewayFetch('/auth/me', { headers: sameOrigin(session) })
    expect(still.status).toBe(200)
  })
})

describe('what a delegated token keeps', () => {
  it('serves proxied routes under their rules, userinfo with openid, and /auth/me', async () => {
    const user = await createUser('dt-keeps')
    const tokens = await appToken('dt-keeps-app', user.id)
    expect((await proxied('/api/things', tokens.access_token)).status).toBe(200)
    const userinfo = await gatewayFetch('/auth/userinfo', { headers: bearer(tokens.access_token) })
    expect(userinfo.status).toBe(200)
    const me = await gatewayFetch('/auth/me', { headers: bearer(tokens.access_token) })
    expect(await me.json()).toMatchObject({ id: user.id, roles: [], client_id: 'dt-keeps-app' })
  })

  it('revokes its own client’s tokens but not the user’s own tokens or another app’s (RFC 7009 §2.1)', async () => {
    const user = await createUser('dt-revoker')
    const app = await appToken('dt-revoker-app', user.id)
    const other = await appToken('dt-revoker-other', user.id)
    const own = await login('dt-revoker')
    const revoke = (token: string) =>
      gatewayFetch('/auth/revoke', {
        method: 'POST',
        headers: { ...bearer(app.access_token), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      })
    for (const token of [
      own.access_token,
      own.refresh_token as string,
      other.access_token,
      other.refresh_token as string,
    ]) {
      expect((await revoke(token)).status).toBe(200)
    }
    expect((await proxied('/api/things', own.access_token)).status).toBe(200)
    expect((await proxied('/api/things', other.access_token)).status).toBe(200)
    expect((await refresh('dt-revoker-other', other.refresh_token as string)).status).toBe(200)
    expect((await revoke(app.refresh_token as string)).status).toBe(200)
    expect((await refresh('dt-revoker-app', app.refresh_token as string)).status).toBe(400)
    expect((await proxied('/api/things', app.access_token)).status).toBe(401)
  })

  it('gets no admin powers at revoke and introspect, even acting as admin', async () => {
    const admin = await createUser('dt-introspector', ['admin'])
    const victim = await createUser('dt-introspected')
    const app = await appToken('dt-introspect-app', admin.id, { allowedRoles: ['admin'] })
    const target = await login(victim.username)
    const form = (token: string) => ({
      method: 'POST',
      headers: { ...bearer(app.access_token), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    })
    const introspect = await gatewayFetch('/auth/introspect', form(target.access_token))
    expect(introspect.status).toBe(401)
    expect((await gatewayFetch('/auth/revoke', form(target.access_token))).status).toBe(200)
    expect((await proxied('/api/things', target.access_token)).status).toBe(200)
    const own = await adminToken('dt-introspector-own')
    const real = await gatewayFetch('/auth/introspect', {
      ...form(target.access_token),
      headers: { ...bearer(own.token), 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(await real.json()).toMatchObject({ active: true, sub: victim.id })
  })
})
