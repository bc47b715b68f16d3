import { env } from 'cloudflare:test'
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, callApi, createUser, login, tokenRequest } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { toBase64Url } from '../crypto/bytes'
import { setUserEmail } from '../users/store'
import { findGrant, grantCovers, recordGrant } from './consent'

// The OpenID Connect surface of the authorization server: ID tokens, UserInfo, discovery, and the
// user's list of consents.

async function codeTokens(
  clientId: string,
  userId: string,
  options: { scopes?: string[]; nonce?: string } = {},
): Promise<CodeTokens & { authTime: number }> {
  const issued = await issueCode(clientId, userId, options)
  const response = await exchangeCode(clientId, issued)
  const text = await response.text()
  expect(response.status, text).toBe(200)
  return { ...(JSON.parse(text) as CodeTokens), authTime: issued.authTime }
}

async function jwks() {
  const response = await gatewayFetch('/.well-known/jwks.json')
  return createLocalJWKSet((await response.json()) as JSONWebKeySet)
}

function leftHalfSha256(value: string): Promise<string> {
  return crypto.subtle
    .digest('SHA-256', new TextEncoder().encode(value))
    .then((digest) => toBase64Url(new Uint8Array(digest).slice(0, 16)))
}

describe('the ID token', () => {
  it('verifies from the JWKS for issuer and audience = client_id, with nonce, at_hash, auth_time and amr', async () => {
    const user = await createUser('oidc-id-token')
    await createCodeClient('oidc-rp')
    const tokens = await codeTokens('oidc-rp', user.id, { nonce: 'n-0S6_WzA2Mj' })
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token as string, await jwks(), {
      issuer: GATEWAY,
      audience: 'oidc-rp',
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'iat', 'sub', 'auth_time', 'nonce', 'at_hash'],
    })
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'JWT' })
    expect(payload).toMatchObject({
      sub: user.id,
      nonce: 'n-0S6_WzA2Mj',
      auth_time: tokens.authTime,
      amr: ['pwd'],
      azp: 'oidc-rp',
    })
    expect(payload.at_hash).toBe(await leftHalfSha256(tokens.access_token))
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(900)
  })

  it('is not issued without the openid scope', async () => {
    const user = await createUser('oidc-no-openid')
    await createCodeClient('oidc-plain-oauth')
    const tokens = await codeTokens('oidc-plain-oauth', user.id, { scopes: ['read'] })
    expect(tokens.id_token).toBeUndefined()
    expect(tokens.scope).toBe('read')
  })

  it('is refused where an access token is expected (typ JWT and aud = client, not at+jwt for the gateway)', async () => {
    const user = await createUser('oidc-id-as-access')
    await createCodeClient('oidc-confused')
    const tokens = await codeTokens('oidc-confused', user.id)
    expect(decodeProtectedHeader(tokens.id_token as string).typ).toBe('JWT')
    expect(await callApi(tokens.id_token as string)).toEqual({ status: 401, forwarded: 0 })
  })
})

describe('UserInfo', () => {
  it('answers GET and POST with sub, preferred_username and roles for an openid access token', async () => {
    const user = await createUser('oidc-userinfo', ['editor'])
    await createCodeClient('oidc-userinfo-rp')
    const tokens = await codeTokens('oidc-userinfo-rp', user.id)
    for (const method of ['GET', 'POST']) {
      const response = await gatewayFetch('/auth/userinfo', { method, headers: bearer(tokens.access_token) })
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      expect(await response.json()).toEqual({
        sub: user.id,
        preferred_username: 'oidc-userinfo',
        roles: ['editor'],
      })
    }
  })

  it('answers no token and a forged one with 401 and a Bearer challenge', async () => {
    for (const headers of [{}, bearer('not.a.token')]) {
      const response = await gatewayFetch('/auth/userinfo', { headers })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /)
    }
  })

  it('refuses an access token without the openid scope as insufficient_scope', async () => {
    await createUser('oidc-userinfo-password')
    const tokens = await login('oidc-userinfo-password')
    const response = await gatewayFetch('/auth/userinfo', { headers: bearer(tokens.access_token) })
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/)
  })

  it('refuses the token of a user disabled since', async () => {
    const user = await createUser('oidc-userinfo-disabled')
    await createCodeClient('oidc-userinfo-disabled-rp')
    const tokens = await codeTokens('oidc-userinfo-disabled-rp', user.id)
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    const response = await gatewayFetch('/auth/userinfo', { headers: bearer(tokens.access_token) })
    expect(response.status).toBe(401)
  })
})

describe('the email scope (OIDC Core §5.4)', () => {
  async function emailTokens(name: string, scopes: string[], email?: { address: string; verified: boolean }) {
    const user = await createUser(name)
    if (email) expect(await setUserEmail(env.DB, user.id, email.address, email.verified)).toBe(true)
    await createCodeClient(`${name}-rp`, { scopes: ['openid', 'email'] })
    const tokens = await codeTokens(`${name}-rp`, user.id, { scopes })
    const { payload } = await jwtVerify(tokens.id_token as string, await jwks(), {
      issuer: GATEWAY,
      audience: `${name}-rp`,
    })
    const userinfo = await gatewayFetch('/auth/userinfo', { headers: bearer(tokens.access_token) })
    expect(userinfo.status).toBe(200)
    return { user, idToken: payload, userinfo: (await userinfo.json()) as Record<string, unknown> }
  }

  it('puts email and email_verified in the ID token and UserInfo when the email scope was granted', async () => {
    const verified = await emailTokens('oidc-email-yes', ['openid', 'email'], {
      address: 'Verified@example.com',
      verified: true,
    })
    expect(verified.idToken).toMatchObject({ email: 'Verified@example.com', email_verified: true })
    expect(verified.userinfo).toEqual({
      sub: verified.user.id,
      preferred_username: 'oidc-email-yes',
      roles: ['user'],
      email: 'Verified@example.com',
      email_verified: true,
    })
    const unverified = await emailTokens('oidc-email-unverified', ['openid', 'email'], {
      address: 'unverified@example.com',
      verified: false,
    })
    expect(unverified.idToken).toMatchObject({ email: 'unverified@example.com', email_verified: false })
    expect(unverified.userinfo).toMatchObject({ email: 'unverified@example.com', email_verified: false })
  })

  it('leaves both out without the email scope, and for a user without an address', async () => {
    const noScope = await emailTokens('oidc-email-noscope', ['openid'], {
      address: 'scopeless@example.com',
      verified: true,
    })
    const noAddress = await emailTokens('oidc-email-none', ['openid', 'email'])
    for (const claims of [noScope.idToken, noScope.userinfo, noAddress.idToken, noAddress.userinfo]) {
      expect(claims).not.toHaveProperty('email')
      expect(claims).not.toHaveProperty('email_verified')
    }
  })
})

describe('discovery metadata', () => {
  it.each(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'])(
    '%s names the authorization server endpoints and capabilities',
    async (path) => {
      const response = await gatewayFetch(path)
      expect(response.status).toBe(200)
      const body = (await response.json()) as Record<string, unknown>
      expect(body).toMatchObject({
        issuer: GATEWAY,
        authorization_endpoint: `${GATEWAY}/auth/authorize`,
        token_endpoint: `${GATEWAY}/auth/token`,
        userinfo_endpoint: `${GATEWAY}/auth/userinfo`,
        end_session_endpoint: `${GATEWAY}/auth/end-session`,
        jwks_uri: `${GATEWAY}/.well-known/jwks.json`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      })
      expect(body.grant_types_supported).toEqual(
        expect.arrayContaining(['authorization_code', 'refresh_token']),
      )
      expect(body.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'read']))
      expect(body.claims_supported).toEqual(
        expect.arrayContaining(['sub', 'auth_time', 'nonce', 'at_hash', 'preferred_username']),
      )
      expect(body.code_challenge_methods_supported).not.toContain('plain')
    },
  )
})

describe('consent grants', () => {
  it('remembers an approval per user + client as the union of approved scopes', async () => {
    const user = await createUser('oidc-grant-union')
    await createCodeClient('oidc-grant-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-grant-app', scopes: ['openid', 'read'] })
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-grant-app', scopes: ['write'] })
    const grant = await findGrant(env.DB, { userId: user.id, clientId: 'oidc-grant-app' })
    expect(grant?.scopes).toEqual(['openid', 'read', 'write'])
    expect(grantCovers(grant, ['openid', 'write'])).toBe(true)
    expect(grantCovers(grant, ['openid', 'admin'])).toBe(false)
    expect(grantCovers(undefined, [])).toBe(false)
  })

  it('lists the caller’s grants at GET /auth/grants with the app name and never another user’s', async () => {
    const user = await createUser('oidc-grant-list')
    const other = await createUser('oidc-grant-other')
    await createCodeClient('oidc-list-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-list-app', scopes: ['openid'] })
    await recordGrant(env.DB, { userId: other.id, clientId: 'oidc-list-app', scopes: ['read'] })
    const tokens = await login('oidc-grant-list')
    const response = await gatewayFetch('/auth/grants', { headers: bearer(tokens.access_token) })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { grants: Record<string, unknown>[] }
    expect(body.grants).toEqual([
      expect.objectContaining({
        client_id: 'oidc-list-app',
        client_name: 'App oidc-list-app',
        scopes: ['openid'],
      }),
    ])
    expect((await gatewayFetch('/auth/grants')).status).toBe(401)
  })

  it('DELETE /auth/grants/{client_id} withdraws consent and ends that app’s sessions, not others', async () => {
    const user = await createUser('oidc-grant-delete')
    await createCodeClient('oidc-revoked-app')
    await createCodeClient('oidc-kept-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-revoked-app', scopes: ['openid', 'read'] })
    const revoked = await codeTokens('oidc-revoked-app', user.id)
    const kept = await codeTokens('oidc-kept-app', user.id)
    const own = await login('oidc-grant-delete')
    const response = await gatewayFetch('/auth/grants/oidc-revoked-app', {
      method: 'DELETE',
      headers: bearer(own.access_token),
    })
    expect(response.status).toBe(204)
    expect(await findGrant(env.DB, { userId: user.id, clientId: 'oidc-revoked-app' })).toBeUndefined()
    expect(
      await waitForAudit(
        (e) => e.type === 'consent_revoked' && e.client_id === 'oidc-revoked-app' && e.subject_id === user.id,
      ),
    ).toMatchObject({ actor_id: user.id })
    expect(await callApi(revoked.access_token)).toEqual({ status: 401, forwarded: 0 })
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: revoked.refresh_token as string,
      client_id: 'oidc-revoked-app',
    })
    expect(refreshed.status).toBe(400)
    expect(await callApi(kept.access_token)).toEqual({ status: 200, forwarded: 1 })
    const again = await gatewayFetch('/auth/grants/oidc-revoked-app', {
      method: 'DELETE',
      headers: bearer(own.access_token),
    })
    expect(again.status).toBe(404)
  })

  // Issue 19 changed this test with the contract: an app's token used to see and withdraw its own
  // grant here; listing and withdrawing grants now manage the account, so a delegated token is
  // refused outright (403 insufficient_scope) and touches no grant. It can still end its own
  // tokens at /auth/revoke (src/oauth/delegated-tokens.test.ts).
  it('refuses an app’s token both the list of grants and withdrawing any of them', async () => {
    const user = await createUser('oidc-grant-scoped')
    await createCodeClient('oidc-nosy-app')
    await createCodeClient('oidc-victim-app')
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-nosy-app', scopes: ['openid'] })
    await recordGrant(env.DB, { userId: user.id, clientId: 'oidc-victim-app', scopes: ['openid'] })
    const nosy = await codeTokens('oidc-nosy-app', user.id)
    const listed = await gatewayFetch('/auth/grants', { headers: bearer(nosy.access_token) })
    expect(listed.status).toBe(403)
    expect(await listed.json()).toMatchObject({ error: 'insufficient_scope' })
    for (const target of ['oidc-victim-app', 'oidc-nosy-app']) {
      const attempt = await gatewayFetch(`/auth/grants/${target}`, {
        method: 'DELETE',
        headers: bearer(nosy.access_token),
      })
      expect(attempt.status).toBe(403)
      expect(await findGrant(env.DB, { userId: user.id, clientId: target })).toBeDefined()
    }
  })
})
