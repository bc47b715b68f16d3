import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login, PASSWORD, tokenRequest } from '../../test/support/accounts'
import { adminFetch, adminJson, adminToken, waitForAudit } from '../../test/support/admin'
import { createApiKey } from '../../test/support/api-keys'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { gatewayFetch } from '../../test/support/gateway'
import { browserLogin, sameOrigin } from '../../test/support/sessions'
import { findGrant, recordGrant } from '../oauth/consent'

interface UserView {
  id: string
  username: string
  roles: string[]
  disabled: boolean
}

function meStatus(headers: Record<string, string>): Promise<number> {
  return gatewayFetch('/auth/me', { headers }).then(async (response) => {
    await response.arrayBuffer()
    return response.status
  })
}

async function codeTokens(clientId: string, userId: string): Promise<CodeTokens> {
  const response = await exchangeCode(clientId, await issueCode(clientId, userId))
  expect(response.status).toBe(200)
  return (await response.json()) as CodeTokens
}

describe('every admin operation is for admins only', () => {
  // One row per operation: method, path (with ids filled in by setup), body.
  async function operations(): Promise<[string, string, unknown?][]> {
    const target = await createUser('authz-target')
    return [
      ['GET', '/admin/users'],
      ['POST', '/admin/users', { username: 'authz-new', password: PASSWORD }],
      ['GET', `/admin/users/${target.id}`],
      ['PATCH', `/admin/users/${target.id}`, { roles: ['user'] }],
      ['POST', `/admin/users/${target.id}/revoke`],
      ['GET', `/admin/users/${target.id}/sessions`],
      ['GET', `/admin/users/${target.id}/identities`],
      ['GET', `/admin/users/${target.id}/grants`],
      ['DELETE', `/admin/users/${target.id}/grants/no-such-app`],
      ['GET', `/admin/users/${target.id}/api-keys`],
      ['POST', `/admin/users/${target.id}/api-keys`, { name: 'authz key' }],
      ['GET', '/admin/clients'],
      ['POST', '/admin/clients', { client_id: 'authz-client' }],
      ['PATCH', '/admin/clients/authz-client', { allowed_roles: ['user'] }],
      ['POST', '/admin/clients/authz-client/secret'],
      ['DELETE', '/admin/clients/authz-client'],
      ['GET', '/admin/api-keys'],
      ['DELETE', '/admin/api-keys/0123456789abcdef'],
      ['GET', '/admin/audit'],
      ['GET', '/admin/openapi.json'],
      ['GET', '/admin/docs'],
      ['GET', '/admin'],
      ['POST', `/admin/page/users/${target.id}/revoke`],
      ['DELETE', `/admin/users/${target.id}`],
    ]
  }

  it('answers 401 without credentials, 403 to a non-admin (even an editor), and serves an admin', async () => {
    const rows = await operations()
    await createUser('authz-user', ['editor'])
    const userToken = (await login('authz-user')).access_token
    const admin = await adminToken('authz-admin')
    for (const [method, path, body] of rows) {
      const anonymous = await adminFetch(undefined, method, path, body)
      expect(anonymous.status, `${method} ${path} anonymous`).toBe(401)
      expect(((await anonymous.json()) as { error: string }).error).toBe('invalid_token')
      const user = await adminFetch(userToken, method, path, body)
      expect(user.status, `${method} ${path} editor`).toBe(403)
      expect(await user.json()).toMatchObject({ error: 'forbidden', request_id: expect.any(String) })
    }
    for (const [method, path, body] of rows) {
      const response = await adminFetch(admin.token, method, path, body)
      await response.arrayBuffer()
      // The key id in DELETE /admin/api-keys, and the app in DELETE .../grants/, name nothing: 404.
      const expected =
        path.startsWith('/admin/api-keys/') || (method === 'DELETE' && path.includes('/grants/'))
          ? 404
          : method === 'POST' && path.includes('/page/')
            ? 303
            : undefined
      if (expected) expect(response.status, `${method} ${path}`).toBe(expected)
      else expect(response.status, `${method} ${path}`).toBeLessThan(300)
    }
  })

  it('refuses every operation to a token an app obtained for an admin, even one allowed to act as admin', async () => {
    const rows = await operations()
    const admin = await createUser('authz-delegating-admin', ['admin'])
    await createCodeClient('authz-app', { allowedRoles: ['admin'] })
    await recordGrant(env.DB, {
      userId: admin.id,
      clientId: 'authz-app',
      scopes: ['openid', 'read'],
      roles: ['admin', 'editor', 'user'],
    })
    const delegated = await codeTokens('authz-app', admin.id)
    for (const [method, path, body] of rows) {
      const response = await adminFetch(delegated.access_token, method, path, body)
      expect(response.status, `${method} ${path} delegated`).toBe(403)
      expect(((await response.json()) as { error: string }).error).toBe('insufficient_scope')
    }
  })

  it('refuses an admin API key: a long-lived key does not carry admin powers', async () => {
    const admin = await adminToken('authz-key-admin')
    const key = await createApiKey(admin.token, { name: 'admin key' })
    const response = await gatewayFetch('/admin/users', { headers: { 'x-api-key': key.key } })
    expect(response.status).toBe(401)
  })

  it('refuses an admin token revoked by logout-all at once (revocation read from D1)', async () => {
    const admin = await adminToken('authz-logged-out')
    expect((await adminFetch(admin.token, 'POST', '/auth/logout-all')).status).toBe(204)
    expect((await adminFetch(admin.token, 'GET', '/admin/users')).status).toBe(401)
  })
})

describe('the admin session in a browser follows the CSRF rules', () => {
  it('serves a same-origin request and refuses a cross-site one with csrf_failed', async () => {
    const target = await createUser('csrf-target')
    await createUser('csrf-admin', ['admin'])
    const session = await browserLogin('csrf-admin')
    const path = `/admin/users/${target.id}`
    const crossSite = await gatewayFetch(path, {
      method: 'PATCH',
      headers: { ...sameOrigin(session), 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    })
    expect(crossSite.status).toBe(403)
    expect(((await crossSite.json()) as { error: string }).error).toBe('csrf_failed')
    const form = await gatewayFetch(`/admin/page/users/${target.id}/disable`, {
      method: 'POST',
      headers: { ...sameOrigin(session), 'sec-fetch-site': 'cross-site' },
      redirect: 'manual',
    })
    expect(form.status).toBe(403)
    const same = await gatewayFetch(path, {
      method: 'PATCH',
      headers: { ...sameOrigin(session), 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    })
    expect(same.status).toBe(200)
    expect(((await same.json()) as UserView).disabled).toBe(true)
  })

  it('sends a signed-out browser to the login page', async () => {
    const response = await gatewayFetch('/admin', { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/auth/login?return_to=%2Fadmin')
  })
})

describe('requests are validated and errors have the gateway shape', () => {
  it.each([
    ['a missing password', 'POST', '/admin/users', { username: 'val-a' }],
    ['a bad username', 'POST', '/admin/users', { username: 'a b', password: PASSWORD }],
    ['a weak password', 'POST', '/admin/users', { username: 'val-weak', password: 'password' }],
    [
      'an invalid role name',
      'POST',
      '/admin/users',
      { username: 'val-b', password: PASSWORD, roles: ['Admin!'] },
    ],
    ['an unknown field', 'POST', '/admin/users', { username: 'val-c', password: PASSWORD, admin: true }],
    ['an empty change', 'PATCH', '/admin/users/x', {}],
    ['a forged cursor', 'GET', '/admin/users?cursor=***', undefined],
    ['a limit out of range', 'GET', '/admin/users?limit=100000', undefined],
    ['an unknown audit type', 'GET', '/admin/audit?type=nope', undefined],
    ['a bad since', 'GET', '/admin/audit?since=yesterday', undefined],
    ['a malformed API key id', 'DELETE', '/admin/api-keys/nothex', undefined],
    [
      'a public client with client_credentials',
      'POST',
      '/admin/clients',
      { client_id: 'pub', public: true, grant_types: ['client_credentials'] },
    ],
  ])('refuses %s with 400 invalid_request', async (_name, method, path, body) => {
    const admin = await adminToken(`val-admin-${Math.random().toString(36).slice(2, 8)}`)
    const response = await adminFetch(admin.token, method, path, body)
    expect(response.status).toBe(400)
    const json = (await response.json()) as Record<string, unknown>
    expect(Object.keys(json).sort()).toEqual(['error', 'error_description', 'request_id'])
    expect(json.error).toBe('invalid_request')
  })

  it('refuses a body that is not JSON and never echoes the submitted password', async () => {
    const admin = await adminToken('val-echo')
    const response = await gatewayFetch('/admin/users', {
      method: 'POST',
      headers: { ...bearer(admin.token), 'content-type': 'application/json' },
      body: '{"username": "val-echo2", "password": "hunter2hunter2-secret"',
    })
    expect(response.status).toBe(400)
    expect(await response.text()).not.toContain('hunter2')
  })

  it('answers 409 for a taken username and 404 for an unknown user', async () => {
    const admin = await adminToken('val-conflict')
    const taken = await adminFetch(admin.token, 'POST', '/admin/users', {
      username: 'VAL-CONFLICT',
      password: PASSWORD,
    })
    expect(taken.status).toBe(409)
    const missing = await adminFetch(admin.token, 'GET', '/admin/users/no-such-user')
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: string }).error).toBe('not_found')
  })
})

describe('lists page with a cursor', () => {
  it('walks every user once, in username order, and searches by username', async () => {
    const admin = await adminToken('page-admin')
    for (const n of [1, 2, 3, 4, 5]) await createUser(`page-user-${n}`)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const query: string = `/admin/users?q=page-user&limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const body = await adminJson<{ items: UserView[]; next_cursor: string | null }>(
        admin.token,
        'GET',
        query,
      )
      expect(body.items.length).toBeLessThanOrEqual(2)
      seen.push(...body.items.map((user) => user.username))
      cursor = body.next_cursor
    } while (cursor)
    expect(seen).toEqual(['page-user-1', 'page-user-2', 'page-user-3', 'page-user-4', 'page-user-5'])
    const wildcard = await adminJson<{ items: UserView[] }>(admin.token, 'GET', '/admin/users?q=%25')
    expect(wildcard.items).toEqual([])
  })

  it('never lists a password hash, a key or a secret', async () => {
    const admin = await adminToken('page-secrets')
    await createApiKey(admin.token, { name: 'k' })
    for (const path of ['/admin/users', '/admin/api-keys', '/admin/clients']) {
      const text = await (await adminFetch(admin.token, 'GET', path)).text()
      expect(text).not.toMatch(/password_hash|pbkdf2|key_hash|secret_hash|gwk_/)
    }
  })
})

describe('admin actions take effect on the public endpoints', () => {
  it('disabling a user ends its token, session and API key at once; enabling lets it log in again', async () => {
    const admin = await adminToken('fx-admin')
    const user = await createUser('fx-disabled')
    const token = (await login('fx-disabled')).access_token
    const key = await createApiKey(token, { name: 'fx' })
    const session = await browserLogin('fx-disabled')
    expect(await meStatus(bearer(token))).toBe(200)
    // Used once: the key's live record and the session's are now cached in KV (60 s).
    expect(await meStatus({ 'x-api-key': key.key })).toBe(200)
    expect(await meStatus({ cookie: session.cookie })).toBe(200)
    const patched = await adminJson<UserView>(admin.token, 'PATCH', `/admin/users/${user.id}`, {
      disabled: true,
    })
    expect(patched.disabled).toBe(true)
    expect(await meStatus(bearer(token))).toBe(401)
    expect(await meStatus({ 'x-api-key': key.key })).toBe(401)
    expect(await meStatus({ cookie: session.cookie })).toBe(401)
    expect(
      (await tokenRequest({ grant_type: 'password', username: 'fx-disabled', password: PASSWORD })).status,
    ).toBe(400)
    await adminJson(admin.token, 'PATCH', `/admin/users/${user.id}`, { disabled: false })
    expect(await meStatus(bearer((await login('fx-disabled')).access_token))).toBe(200)
  })

  it('revoke ends tokens, sessions and keys but leaves the account usable', async () => {
    const admin = await adminToken('fx-revoker')
    const user = await createUser('fx-revoked')
    const token = (await login('fx-revoked')).access_token
    const key = await createApiKey(token, { name: 'fx' })
    expect(await meStatus({ 'x-api-key': key.key })).toBe(200)
    const body = await adminJson<{ api_keys_revoked: number }>(
      admin.token,
      'POST',
      `/admin/users/${user.id}/revoke`,
    )
    expect(body.api_keys_revoked).toBe(1)
    expect(await meStatus(bearer(token))).toBe(401)
    expect(await meStatus({ 'x-api-key': key.key })).toBe(401)
    expect(await meStatus(bearer((await login('fx-revoked')).access_token))).toBe(200)
  })

  it('roles changed by an admin reach the next token', async () => {
    const admin = await adminToken('fx-roles-admin')
    const user = await createUser('fx-roles')
    await adminJson(admin.token, 'PATCH', `/admin/users/${user.id}`, { roles: ['editor'] })
    const me = await gatewayFetch('/auth/me', { headers: bearer((await login('fx-roles')).access_token) })
    expect(((await me.json()) as { roles: string[] }).roles).toEqual(['editor'])
  })

  it('deleting a user ends its token and its login', async () => {
    const admin = await adminToken('fx-deleter')
    const user = await createUser('fx-deleted')
    const token = (await login('fx-deleted')).access_token
    expect((await adminFetch(admin.token, 'DELETE', `/admin/users/${user.id}`)).status).toBe(204)
    expect(await meStatus(bearer(token))).toBe(401)
    expect((await adminFetch(admin.token, 'GET', `/admin/users/${user.id}`)).status).toBe(404)
    expect(
      (await tokenRequest({ grant_type: 'password', username: 'fx-deleted', password: PASSWORD })).status,
    ).toBe(400)
  })

  it('a key revoked by an admin is 401 at once', async () => {
    const admin = await adminToken('fx-key-admin')
    await createUser('fx-key-owner')
    const key = await createApiKey((await login('fx-key-owner')).access_token, { name: 'fx' })
    expect(await meStatus({ 'x-api-key': key.key })).toBe(200)
    const listed = await adminJson<{ items: { id: string }[] }>(admin.token, 'GET', '/admin/api-keys')
    expect(listed.items.map((item) => item.id)).toContain(key.id)
    expect((await adminFetch(admin.token, 'DELETE', `/admin/api-keys/${key.id}`)).status).toBe(204)
    expect(await meStatus({ 'x-api-key': key.key })).toBe(401)
    expect((await adminFetch(admin.token, 'DELETE', `/admin/api-keys/${key.id}`)).status).toBe(404)
  })

  it('a client is created with a secret shown once, rotated (old secret refused) and deleted (its tokens void)', async () => {
    const admin = await adminToken('fx-client-admin')
    const created = await adminJson<{ client_secret: string; confidential: boolean }>(
      admin.token,
      'POST',
      '/admin/clients',
      { client_id: 'fx-svc', roles: ['user'] },
      201,
    )
    expect(created.confidential).toBe(true)
    expect(created.client_secret).toMatch(/^gws_/)
    const grant = (secret: string) =>
      tokenRequest({ grant_type: 'client_credentials', client_id: 'fx-svc', client_secret: secret })
    const first = await grant(created.client_secret)
    expect(first.status).toBe(200)
    const clientToken = ((await first.json()) as { access_token: string }).access_token
    const listed = await (await adminFetch(admin.token, 'GET', '/admin/clients')).text()
    expect(listed).not.toContain(created.client_secret)
    const rotated = await adminJson<{ client_secret: string }>(
      admin.token,
      'POST',
      '/admin/clients/fx-svc/secret',
    )
    expect((await grant(created.client_secret)).status).toBe(401)
    expect((await grant(rotated.client_secret)).status).toBe(200)
    expect(await meStatus(bearer(clientToken))).toBe(200)
    expect((await adminFetch(admin.token, 'DELETE', '/admin/clients/fx-svc')).status).toBe(204)
    expect(await meStatus(bearer(clientToken))).toBe(401)
    expect((await grant(rotated.client_secret)).status).toBe(401)
  })

  it("changes a client's trust (first_party, allowed_roles, origins, disabled), validated, audited, effective at the next refresh", async () => {
    const admin = await adminToken('fx-trust-admin')
    const user = await createUser('fx-trust-user', ['editor'])
    await createCodeClient('fx-trust-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'fx-trust-app', scopes: ['openid', 'read'] })
    const first = await codeTokens('fx-trust-app', user.id)
    expect(decodeJwt(first.access_token).roles).toEqual([])
    const changed = await adminJson<Record<string, unknown>>(
      admin.token,
      'PATCH',
      '/admin/clients/fx-trust-app',
      {
        first_party: true,
        allowed_roles: ['editor'],
        allowed_origins: ['https://spa.example'],
      },
    )
    expect(changed).toMatchObject({
      client_id: 'fx-trust-app',
      first_party: true,
      skip_consent: false,
      allowed_roles: ['editor'],
      allowed_origins: ['https://spa.example'],
      disabled: false,
    })
    const refresh = (token: string) =>
      tokenRequest({ grant_type: 'refresh_token', refresh_token: token, client_id: 'fx-trust-app' })
    const next = (await (await refresh(first.refresh_token as string)).json()) as CodeTokens
    expect(decodeJwt(next.access_token)).toMatchObject({ roles: ['editor'], first_party: true })
    for (const body of [
      { allowed_origins: ['https://spa.example/path'] },
      { roles: ['admin'] },
      { allowed_roles: ['Bad Role'] },
    ]) {
      const refused = await adminFetch(admin.token, 'PATCH', '/admin/clients/fx-trust-app', body)
      expect(refused.status, JSON.stringify(body)).toBe(400)
    }
    expect(
      (await adminFetch(admin.token, 'PATCH', '/admin/clients/no-such-app', { disabled: true })).status,
    ).toBe(404)
    await adminJson(admin.token, 'PATCH', '/admin/clients/fx-trust-app', { disabled: true })
    expect((await refresh(next.refresh_token as string)).status).toBe(401)
    await waitForAudit(
      (event) =>
        event.type === 'client_updated' &&
        event.client_id === 'fx-trust-app' &&
        event.details.disabled === true,
    )
  })

  it("lists a user's linked identities and consent grants, and withdrawing a grant ends that app's tokens", async () => {
    const admin = await adminToken('fx-links-admin')
    const user = await createUser('fx-links-user')
    await env.DB.prepare(
      `INSERT INTO external_identities (provider, subject, user_id, email, display, created_at)
       VALUES ('corp', 'sub-42', ?1, 'links@example.com', 'Links User', unixepoch())`,
    )
      .bind(user.id)
      .run()
    await createCodeClient('fx-links-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'fx-links-app', scopes: ['openid', 'read'] })
    const identities = await adminJson<{ items: { provider: string; subject: string }[] }>(
      admin.token,
      'GET',
      `/admin/users/${user.id}/identities`,
    )
    expect(identities.items).toEqual([expect.objectContaining({ provider: 'corp', subject: 'sub-42' })])
    const grants = await adminJson<{ items: { client_id: string; scopes: string[] }[] }>(
      admin.token,
      'GET',
      `/admin/users/${user.id}/grants`,
    )
    expect(grants.items).toEqual([
      expect.objectContaining({ client_id: 'fx-links-app', scopes: ['openid', 'read'] }),
    ])
    const tokens = await codeTokens('fx-links-app', user.id)
    expect(await meStatus(bearer(tokens.access_token))).toBe(200)
    expect(
      (await adminFetch(admin.token, 'DELETE', `/admin/users/${user.id}/grants/fx-links-app`)).status,
    ).toBe(204)
    expect(await findGrant(env.DB, { userId: user.id, clientId: 'fx-links-app' })).toBeUndefined()
    expect(await meStatus(bearer(tokens.access_token))).toBe(401)
    expect(
      await waitForAudit(
        (e) => e.type === 'consent_revoked' && e.subject_id === user.id && e.client_id === 'fx-links-app',
      ),
    ).toMatchObject({ actor_id: admin.id, details: { by: 'admin' } })
    expect(
      (await adminFetch(admin.token, 'DELETE', `/admin/users/${user.id}/grants/fx-links-app`)).status,
    ).toBe(404)
  })

  it('a client for the authorization code flow gets the CLI options; a bad redirect URI or a code grant without one is 400', async () => {
    const admin = await adminToken('fx-code-client-admin')
    const created = await adminJson<Record<string, unknown>>(
      admin.token,
      'POST',
      '/admin/clients',
      {
        client_id: 'fx-spa',
        public: true,
        redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'],
        post_logout_redirect_uris: ['https://app.example.com/'],
        skip_consent: true,
      },
      201,
    )
    expect(created).toMatchObject({
      confidential: false,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'],
      skip_consent: true,
    })
    expect(created.client_secret).toBeUndefined()
    for (const body of [
      { client_id: 'fx-bad-1', redirect_uris: ['http://evil.example/cb'] },
      { client_id: 'fx-bad-2', redirect_uris: ['https://app.example.com/cb#frag'] },
      { client_id: 'fx-bad-3', grant_types: ['authorization_code'] },
    ]) {
      const response = await adminFetch(admin.token, 'POST', '/admin/clients', body)
      expect(response.status).toBe(400)
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request')
    }
  })
})
