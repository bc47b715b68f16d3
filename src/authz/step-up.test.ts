/**
 * Step-up end to end (docs/passkeys-and-mfa.md): routes with `require_mfa` / `max_auth_age`
 * answer RFC 9470's challenge to a sign-in that is too weak or too old and forward one that is
 * strong enough; browsers go to the second-factor page and back; users with a second factor get no
 * password-grant tokens and cannot pass Basic; /auth/authorize honours `acr_values`.
 */
import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, createUser, login, PASSWORD, tokenRequest } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import { createApiKey } from '../../test/support/api-keys'
import {
  authorizationRequest,
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { forgeToken } from '../../test/support/forge'
import { fetchWithEnv, GATEWAY, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { browserLogin, setCookies } from '../../test/support/sessions'
import { loadConfig } from '../config/load'
import type { Env } from '../env'
import { createSession } from '../sessions'

const CREDENTIALS = ['jwt', 'api_key', 'session', 'basic']
const ROUTES = [
  { path: '/vault', upstream: 'UPSTREAM_URL', credentials: CREDENTIALS, require_mfa: true },
  { path: '/fresh', upstream: 'UPSTREAM_URL', credentials: CREDENTIALS, max_auth_age: 300 },
  { path: '/plain', upstream: 'UPSTREAM_URL', credentials: CREDENTIALS },
]
const overrides = { ROUTES } as Partial<Env>

let userId: string
let passwordToken: string
let apiKey: string

/** One of our access tokens (signed with the gateway's test key) for su-user, with this sign-in. */
function tokenWith(claims: { amr?: string[]; authTime?: number }): Promise<string> {
  return forgeToken({
    sub: userId,
    username: 'su-user',
    first_party: true,
    amr: claims.amr,
    auth_time: claims.authTime,
  })
}

/** A browser session for su-user created as a sign-in with these methods would create it. */
async function sessionCookie(amr: string[], authTime?: number): Promise<string> {
  const result = loadConfig(env)
  if (!result.ok) throw new Error('test config is invalid')
  const created = await createSession(env, result.config.settings, {
    user: { id: userId, username: 'su-user', roles: ['user'] },
    persistent: false,
    userAgent: null,
    ip: null,
    authMethod: 'password',
    amr,
    authTime,
  })
  return `gw_session=${created.value}`
}

/** RFC 7617 user-pass with the test password. */
function basic(username: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${username}:${PASSWORD}`)}` }
}

function call(path: string, headers: Record<string, string>) {
  const id = testId()
  return { id, response: fetchWithEnv(overrides, path, { headers: { ...headers, 'x-test-id': id } }) }
}

beforeAll(async () => {
  userId = (await createUser('su-user', ['user'])).id
  passwordToken = (await login('su-user')).access_token
  apiKey = (await createApiKey(passwordToken, { name: 'su key' })).key
})

describe('require_mfa on a route', () => {
  it('answers a password-only token with RFC 9470 insufficient_user_authentication and acr_values, never forwarding', async () => {
    const { id, response } = call('/vault/doc', bearer(passwordToken))
    const refused = await response
    expect(refused.status).toBe(401)
    const challenge = refused.headers.get('www-authenticate') ?? ''
    expect(challenge).toMatch(/^Bearer /)
    expect(challenge).toContain('error="insufficient_user_authentication"')
    expect(challenge).toContain('acr_values="mfa"')
    expect(((await refused.json()) as { error: string }).error).toBe('insufficient_user_authentication')
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('forwards a token whose sign-in used a second factor, and tells the upstream how the user signed in', async () => {
    const token = await tokenWith({ amr: ['pwd', 'otp', 'mfa'], authTime: Math.floor(Date.now() / 1000) })
    const { id, response } = call('/vault/doc', bearer(token))
    expect((await response).status).toBe(200)
    const [received] = await upstreamReceived(id)
    const assertion = decodeJwt(String(received?.headers['x-auth-assertion']))
    expect(assertion.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(typeof assertion.auth_time).toBe('number')
  })

  it('refuses API keys and Basic, which carry no sign-in at all', async () => {
    expect((await call('/vault/doc', { 'x-api-key': apiKey }).response).status).toBe(401)
    const refusedBasic = await call('/vault/doc', basic('su-user')).response
    expect(refusedBasic.status).toBe(401)
    expect(((await refusedBasic.json()) as { error: string }).error).toBe('insufficient_user_authentication')
  })

  it('sends a browser with a password session to the second-factor page and back; fetch calls get the 401', async () => {
    const session = await browserLogin('su-user', { returnTo: '/plain' })
    const navigation = await fetchWithEnv(overrides, '/vault/doc?tab=1', {
      headers: { cookie: session.cookie, accept: 'text/html' },
      redirect: 'manual',
    })
    expect(navigation.status).toBe(302)
    expect(navigation.headers.get('location')).toBe(
      `/auth/second-factor?return_to=${encodeURIComponent('/vault/doc?tab=1')}`,
    )
    const api = await fetchWithEnv(overrides, '/vault/doc', { headers: { cookie: session.cookie } })
    expect(api.status).toBe(401)
  })

  it('lets a session whose sign-in used a second factor through', async () => {
    const response = await fetchWithEnv(overrides, '/vault/doc', {
      headers: { cookie: await sessionCookie(['pwd', 'otp', 'mfa']), accept: 'text/html' },
      redirect: 'manual',
    })
    expect(response.status).toBe(200)
  })
})

describe('max_auth_age on a route', () => {
  it('refuses a sign-in older than the bound with max_age in the challenge, and accepts a recent one', async () => {
    const old = await tokenWith({ amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) - 3600 })
    const refused = await call('/fresh/x', bearer(old)).response
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('max_age=300')
    expect(refused.headers.get('www-authenticate')).not.toContain('acr_values')
    const recent = await tokenWith({ amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) - 10 })
    expect((await call('/fresh/x', bearer(recent)).response).status).toBe(200)
    // No auth_time at all (an API key) never counts as recent.
    expect((await call('/fresh/x', { 'x-api-key': apiKey }).response).status).toBe(401)
  })

  it('sends a browser whose sign-in is too old to the login page (not the second-factor page)', async () => {
    const response = await fetchWithEnv(overrides, '/fresh/x', {
      headers: {
        cookie: await sessionCookie(['pwd'], Math.floor(Date.now() / 1000) - 3600),
        accept: 'text/html',
      },
      redirect: 'manual',
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(`/auth/login?return_to=${encodeURIComponent('/fresh/x')}`)
  })
})

describe('a user with a second factor', () => {
  beforeAll(async () => {
    await createUser('su-mfa', ['user'])
    await env.DB.prepare("UPDATE users SET mfa_enabled = 1 WHERE username = 'su-mfa'").run()
  })

  it('gets no tokens from the password grant: 403 mfa_required, audited', async () => {
    const response = await tokenRequest({ grant_type: 'password', username: 'su-mfa', password: PASSWORD })
    expect(response.status).toBe(403)
    const body = (await response.json()) as { error: string; error_description: string }
    expect(body.error).toBe('mfa_required')
    expect(body.error_description).toContain('/auth/authorize')
    await waitForAudit(
      (event) => event.type === 'mfa_required_refused' && event.details.via === 'password_grant',
    )
  })

  it('a wrong password still says only invalid_grant (mfa_required does not reveal that the account has a factor)', async () => {
    const response = await tokenRequest({ grant_type: 'password', username: 'su-mfa', password: 'wrong' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant')
  })

  it('cannot pass HTTP Basic', async () => {
    const { id, response } = call('/plain/x', basic('su-mfa'))
    const refused = await response
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { error_description: string }).error_description).toContain(
      'second factor',
    )
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('signs in through the form only as far as the second-factor page: no session cookie until the factor', async () => {
    const attempt = await browserLogin('su-mfa', { returnTo: '/app/' })
    expect(attempt.response.status).toBe(303)
    expect(attempt.response.headers.get('location')).toBe('/auth/second-factor')
    expect(attempt.session).toBe('')
    const pending = setCookies(attempt.response).get('gw_pending')
    expect(pending?.attributes).toMatch(/HttpOnly/i)
    expect(pending?.attributes).toMatch(/Max-Age=300/i)
    // The pending cookie is not a session: it opens nothing.
    const me = await gatewayFetch('/auth/me', { headers: { cookie: `gw_pending=${pending?.value}` } })
    expect(me.status).toBe(401)
  })
})

describe('/auth/authorize with acr_values', () => {
  beforeAll(async () => {
    await createCodeClient('su-app', { firstParty: true })
  })

  it('steps a password session up on the second-factor page and comes back to the same request', async () => {
    const session = await browserLogin('su-user', { returnTo: '/plain' })
    const { query } = await authorizationRequest('su-app', { acr_values: 'mfa' })
    const response = await gatewayFetch(`/auth/authorize?${query}`, {
      headers: { cookie: session.cookie, accept: 'text/html' },
      redirect: 'manual',
    })
    expect(response.status).toBe(302)
    const location = new URL(response.headers.get('location') ?? '', GATEWAY)
    expect(location.pathname).toBe('/auth/second-factor')
    expect(location.searchParams.get('return_to')).toBe(`/auth/authorize?${query}`)
  })

  it('answers prompt=none that cannot be met with interaction_required', async () => {
    const session = await browserLogin('su-user', { returnTo: '/plain' })
    const { query } = await authorizationRequest('su-app', { acr_values: 'mfa', prompt: 'none' })
    const response = await gatewayFetch(`/auth/authorize?${query}`, {
      headers: { cookie: session.cookie },
      redirect: 'manual',
    })
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('error')).toBe(
      'interaction_required',
    )
  })

  it('ignores acr values it does not support (a voluntary request) and names none in the token', async () => {
    const session = await browserLogin('su-user', { returnTo: '/plain' })
    const { query } = await authorizationRequest('su-app', { acr_values: 'urn:example:gold' })
    const response = await gatewayFetch(`/auth/authorize?${query}`, {
      headers: { cookie: session.cookie },
      redirect: 'manual',
    })
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy()
  })

  it('puts acr and amr of a multi-factor sign-in in the access token, the ID token and every refresh', async () => {
    await createCodeClient('su-refresh-app', {
      firstParty: true,
      grantTypes: ['authorization_code', 'refresh_token'],
    })
    const issued = await issueCode('su-refresh-app', userId, { amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' })
    const exchanged = await exchangeCode('su-refresh-app', issued)
    expect(exchanged.status).toBe(200)
    const tokens = (await exchanged.json()) as CodeTokens
    expect(decodeJwt(tokens.access_token)).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] })
    expect(decodeJwt(tokens.id_token ?? '')).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] })
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
      client_id: 'su-refresh-app',
    })
    expect(refreshed.status).toBe(200)
    const again = (await refreshed.json()) as CodeTokens
    expect(decodeJwt(again.access_token)).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] })
  })

  it('lists acr_values_supported in the metadata', async () => {
    const metadata = (await (await gatewayFetch('/.well-known/openid-configuration')).json()) as Record<
      string,
      unknown
    >
    expect(metadata.acr_values_supported).toEqual(['phr', 'mfa'])
    expect(metadata.claims_supported).toContain('acr')
  })
})

describe('require_mfa_for_admin', () => {
  const settings = { ...(env.SETTINGS as object), require_mfa_for_admin: true }

  async function adminToken(amr: string[]): Promise<string> {
    return forgeToken({ sub: userId, username: 'su-user', roles: ['admin'], first_party: true, amr })
  }

  it('refuses the admin API to an admin who signed in with a password only, with the step-up challenge', async () => {
    const response = await fetchWithEnv({ SETTINGS: settings } as Partial<Env>, '/admin/users', {
      headers: bearer(await adminToken(['pwd'])),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('acr_values="mfa"')
  })

  it('admits the same admin after a second factor, and everyone when the setting is off', async () => {
    const strong = await fetchWithEnv({ SETTINGS: settings } as Partial<Env>, '/admin/users', {
      headers: bearer(await adminToken(['pwd', 'otp', 'mfa'])),
    })
    expect(strong.status).toBe(200)
    const off = await gatewayFetch('/admin/users', { headers: bearer(await adminToken(['pwd'])) })
    expect(off.status).toBe(200)
  })
})
