import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, login } from '../../test/support/accounts'
import { adminFetch, adminJson, adminToken, waitForAudit } from '../../test/support/admin'
import { fetchWithEnv, gatewayFetch } from '../../test/support/gateway'
import {
  creationOptions,
  pageFetch,
  register,
  signedInUser,
  signIn,
  userWithPasskey,
} from '../../test/support/passkeys'
import { TestAuthenticator } from '../../test/support/webauthn'
import { deleteExpiredRows } from '../cleanup'
import { sha256Hex } from '../crypto/bytes'
import { nowSeconds } from '../db/json'
import { PASSKEY_SCRIPT } from '../pages/passkey-script'

interface PasskeyJson {
  id: string
  name: string
  device_type: string
  backed_up: boolean
  transports: string[]
  aaguid: string
  last_used_at: number | null
}

async function sessionRow(response: Response) {
  const cookie = response.headers.getAll('set-cookie').find((line) => line.startsWith('gw_session='))
  const value = cookie?.split(';')[0]?.slice('gw_session='.length) ?? ''
  return env.DB.prepare('SELECT user_id, auth_method FROM sessions WHERE token_hash = ?1')
    .bind(await sha256Hex(value))
    .first<{ user_id: string; auth_method: string }>()
}

describe('registering a passkey', () => {
  it('stores the credential (public key, counter, flags, AAGUID, transports) for the signed-in user, audited', async () => {
    const user = await signedInUser('pk-register')
    const authenticator = await TestAuthenticator.create()
    const creation = await creationOptions(user.jar)
    expect(creation).toMatchObject({
      rp: { id: 'gateway.test' },
      user: { name: 'pk-register' },
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      attestation: 'none',
    })
    const response = await register(user.jar, authenticator, { creation, name: '  Laptop\u0007 ' })
    expect(response.status).toBe(201)
    const passkey = (await response.json()) as PasskeyJson
    expect(passkey).toMatchObject({ name: 'Laptop', device_type: 'single_device', backed_up: false })
    expect(passkey.transports).toEqual(['internal'])
    const row = await env.DB.prepare('SELECT * FROM passkeys WHERE id = ?1').bind(passkey.id).first<{
      user_id: string
      credential_id: string
      public_key: string
      algorithm: number
      aaguid: string
    }>()
    expect(row).toMatchObject({ user_id: user.id, credential_id: authenticator.id, algorithm: -7 })
    expect(JSON.parse(row?.public_key ?? '{}')).toMatchObject({ kty: 'EC', crv: 'P-256' })
    expect(row?.aaguid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    const event = await waitForAudit((e) => e.type === 'passkey_registered')
    expect(event.details).toMatchObject({ passkey_id: passkey.id, name: 'Laptop' })
    // The next options exclude it, so the browser will not register the same authenticator twice.
    const next = (await creationOptions(user.jar)) as unknown as { excludeCredentials: { id: string }[] }
    expect(next.excludeCredentials.map((entry) => entry.id)).toEqual([authenticator.id])
  })

  it('needs a recent sign-in: a session signed in long ago is asked to sign in again', async () => {
    const user = await signedInUser('pk-stale')
    await env.DB.prepare('UPDATE sessions SET auth_time = auth_time - 3600 WHERE user_id = ?1')
      .bind(user.id)
      .run()
    const response = await pageFetch(user.jar, '/auth/passkeys/registration-options', {
      method: 'POST',
      body: {},
    })
    expect(response.status).toBe(401)
    expect(((await response.json()) as { error: string }).error).toBe('insufficient_user_authentication')
  })

  it('works with a first-party bearer token too, which must be recent (RFC 9470 challenge)', async () => {
    await signedInUser('pk-bearer')
    const { access_token } = await login('pk-bearer')
    const response = await gatewayFetch('/auth/passkeys/registration-options', {
      method: 'POST',
      headers: { ...bearer(access_token), 'content-type': 'application/json' },
      body: '{}',
    })
    expect(response.status).toBe(200)
  })

  it('accepts EdDSA (Ed25519) and records a synced passkey as multi-device, backed up', async () => {
    const user = await signedInUser('pk-eddsa')
    const response = await register(
      user.jar,
      await TestAuthenticator.create({ algorithm: 'EdDSA', synced: true }),
    )
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ device_type: 'multi_device', backed_up: true })
  })
})

describe('signing in with a passkey', () => {
  it('creates a browser session (auth method passkey) and answers where to go; amr hwk, user, mfa', async () => {
    const user = await userWithPasskey('pk-signin')
    const response = await signIn(user.authenticator, { returnTo: '/app/reports?y=1' })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ redirect: '/app/reports?y=1' })
    expect(await sessionRow(response)).toEqual({ user_id: user.id, auth_method: 'passkey' })
    const event = await waitForAudit(
      (e) => e.type === 'login_succeeded' && e.subject_id === user.id && e.details.method === 'passkey',
    )
    expect(event.details).toMatchObject({
      method: 'passkey',
      passkey_id: user.passkeyId,
      amr: ['hwk', 'user', 'mfa'],
    })
    const row = await env.DB.prepare('SELECT last_used_at FROM passkeys WHERE id = ?1')
      .bind(user.passkeyId)
      .first<{ last_used_at: number }>()
    expect(row?.last_used_at).toBeGreaterThan(0)
  })

  it('gives amr swk for a synced passkey', async () => {
    const user = await userWithPasskey('pk-synced', { synced: true, algorithm: 'EdDSA' })
    expect((await signIn(user.authenticator)).status).toBe(200)
    const event = await waitForAudit(
      (e) => e.type === 'login_succeeded' && e.subject_id === user.id && e.details.method === 'passkey',
    )
    expect(event.details.amr).toEqual(['swk', 'user', 'mfa'])
  })

  it('returns to an authorization request (the login step of /auth/authorize), and never off-site', async () => {
    const user = await userWithPasskey('pk-authorize')
    const authorize = '/auth/authorize?response_type=code&client_id=app&state=s'
    expect(await (await signIn(user.authenticator, { returnTo: authorize })).json()).toEqual({
      redirect: authorize,
    })
    expect(await (await signIn(user.authenticator, { returnTo: '//evil.test/x' })).json()).toEqual({
      redirect: '/',
    })
  })

  it('refuses a disabled user', async () => {
    const user = await userWithPasskey('pk-disabled')
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    expect((await signIn(user.authenticator)).status).toBe(401)
  })
})

describe('managing passkeys', () => {
  it('lists (JSON), renames (PATCH and form) and deletes (DELETE and form) the caller’s own passkeys only', async () => {
    const user = await userWithPasskey('pk-manage')
    const other = await userWithPasskey('pk-other')
    const list = await pageFetch(user.jar, '/auth/passkeys')
    const { items } = (await list.json()) as { items: PasskeyJson[] }
    expect(items.map((item) => item.id)).toEqual([user.passkeyId])
    expect(JSON.stringify(items)).not.toContain('public_key')

    const patch = await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, {
      method: 'PATCH',
      body: { name: 'Phone' },
    })
    expect(patch.status).toBe(204)
    const form = await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}/rename`, {
      method: 'POST',
      body: { name: 'Old phone' },
    })
    expect(form.status).toBe(303)
    expect(
      await waitForAudit((e) => e.type === 'passkey_renamed' && e.details.name === 'Old phone'),
    ).toBeTruthy()
    // Someone else's passkey is "not found", whatever the method.
    expect(
      (await pageFetch(user.jar, `/auth/passkeys/${other.passkeyId}`, { method: 'DELETE' })).status,
    ).toBe(404)
    expect(
      (
        await pageFetch(user.jar, `/auth/passkeys/${other.passkeyId}`, {
          method: 'PATCH',
          body: { name: 'x' },
        })
      ).status,
    ).toBe(404)
    expect(
      (await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, { method: 'PATCH', body: {} })).status,
    ).toBe(400)

    const second = await register(user.jar, await TestAuthenticator.create())
    const secondId = ((await second.json()) as PasskeyJson).id
    expect((await pageFetch(user.jar, `/auth/passkeys/${secondId}/delete`, { method: 'POST' })).status).toBe(
      303,
    )
    expect((await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, { method: 'DELETE' })).status).toBe(
      204,
    )
    const event = await waitForAudit(
      (e) => e.type === 'passkey_deleted' && e.details.passkey_id === user.passkeyId,
    )
    expect(event.details.by).toBe('owner')
    // A deleted passkey signs no one in.
    expect((await signIn(user.authenticator)).status).toBe(401)
  })

  it('keeps the last way in: no password, no provider, one passkey → 409; a second passkey or a linked identity allows it', async () => {
    const user = await userWithPasskey('pk-lastway')
    await env.DB.prepare("UPDATE users SET password_hash = '!external:local-oidc' WHERE id = ?1")
      .bind(user.id)
      .run()
    const refused = await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, { method: 'DELETE' })
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as { error_description: string }).error_description).toMatch(
      /only way to sign in/,
    )

    await env.DB.prepare(
      "INSERT INTO external_identities (provider, subject, user_id, display, created_at) VALUES ('local-oidc', 'sub-1', ?1, '', 0)",
    )
      .bind(user.id)
      .run()
    expect((await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, { method: 'DELETE' })).status).toBe(
      204,
    )
  })

  it('serves the passkeys page under a CSP that allows only its own script, by hash', async () => {
    const user = await userWithPasskey('pk-page')
    const response = await pageFetch(user.jar, '/auth/passkeys', { headers: { accept: 'text/html' } })
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('Test key')
    expect(html).toContain('id="passkey-add"')
    const hash = btoa(
      String.fromCharCode(
        ...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(PASSKEY_SCRIPT))),
      ),
    )
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain(`script-src 'sha256-${hash}'`)
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(html).toContain(`<script>${PASSKEY_SCRIPT}</script>`)
  })
})

describe('an ISSUER on an IP address (npm start’s default)', () => {
  const ip = { ISSUER: 'http://127.0.0.1:8787' }

  it('answers the ceremony endpoints with a clear 400 and says on the page what to do', async () => {
    const response = await fetchWithEnv(ip, '/auth/passkeys/authentication-options', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:8787' },
      body: '{}',
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({
      error: 'passkeys_unavailable',
      error_description: 'Passkeys need a domain name: start with ISSUER=http://localhost:8787 npm start',
    })
    const loginPage = await (await fetchWithEnv(ip, '/auth/login')).text()
    expect(loginPage).not.toContain('passkey-button')
    expect(loginPage).not.toContain('<script')
  })
})

describe('the login page', () => {
  it('offers the passkey button and passkeys in the username autofill (conditional UI)', async () => {
    const html = await (await gatewayFetch('/auth/login')).text()
    expect(html).toContain('autocomplete="username webauthn"')
    expect(html).toContain('id="passkey-button"')
    expect(html).toContain('Sign in with a passkey')
  })
})

describe('the admin API', () => {
  it("lists a user's passkeys and removes one (even the last), audited as the admin's", async () => {
    const admin = await adminToken('pk-admin')
    const user = await userWithPasskey('pk-managed')
    const list = await adminJson<{ items: PasskeyJson[] }>(
      admin.token,
      'GET',
      `/admin/users/${user.id}/passkeys`,
    )
    expect(list.items.map((item) => item.id)).toEqual([user.passkeyId])
    const path = `/admin/users/${user.id}/passkeys/${user.passkeyId}`
    expect((await adminFetch(admin.token, 'DELETE', path)).status).toBe(204)
    expect((await adminFetch(admin.token, 'DELETE', path)).status).toBe(404)
    const event = await waitForAudit((e) => e.type === 'passkey_deleted' && e.details.by === 'admin')
    expect(event).toMatchObject({ actor_id: admin.id, subject_id: user.id })
  })
})

describe('the hourly clean-up', () => {
  it('deletes challenges nobody answered once they expire', async () => {
    const user = await signedInUser('pk-cleanup')
    await creationOptions(user.jar)
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM webauthn_challenges').first<{
      n: number
    }>()
    const report = await deleteExpiredRows(env.DB, nowSeconds() + 301)
    expect(report.webauthnChallenges).toBeGreaterThanOrEqual(1)
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM webauthn_challenges').first<{ n: number }>()
    expect(after?.n).toBeLessThan(before?.n ?? 0)
  })
})
