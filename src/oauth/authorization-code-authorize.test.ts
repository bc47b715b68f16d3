import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { createCodeClient, pkcePair, REDIRECT } from '../../test/support/authorization-code'
import { type AuthorizationRequest, validateAuthorizationRequest } from './authorize-request'
import { authorizationResponseUrl } from './authorize-response'
import { insertClient } from './client-store'
import { decideInteraction, returnToAfterLogin } from './interaction'

// The session-independent half of /auth/authorize: request validation (which errors are shown on
// our page and which go back to the client), the response URL, and the login/consent decision.

const ISSUER = 'http://gateway.test'

async function params(
  overrides: Record<string, string | null> = {},
  clientId = 'az-app',
): Promise<URLSearchParams> {
  const { challenge } = await pkcePair()
  const base: Record<string, string | null> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: 'xyz-state',
    nonce: 'n-123',
    ...overrides,
  }
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(base)) if (value !== null) search.append(name, value)
  return search
}

beforeAll(async () => {
  await createCodeClient('az-app', { redirectUris: [REDIRECT, 'http://127.0.0.1/native'] })
  await createCodeClient('az-no-code-grant', { grantTypes: ['refresh_token'] })
  await insertClient(env.DB, {
    clientId: 'az-disabled',
    name: 'x',
    grantTypes: ['authorization_code'],
    scopes: [],
    roles: [],
    redirectUris: [REDIRECT],
  })
  await env.DB.prepare("UPDATE oauth_clients SET disabled = 1 WHERE client_id = 'az-disabled'").run()
})

describe('authorize errors before the client and redirect URI are trusted: our page, never a redirect', () => {
  it.each([
    ['no client_id', { client_id: null }],
    ['an unknown client', { client_id: 'az-nobody' }],
    ['no redirect_uri', { redirect_uri: null }],
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/callback' }],
    ['a prefix variant', { redirect_uri: `${REDIRECT}/x` }],
    ['a case variant', { redirect_uri: REDIRECT.toUpperCase() }],
    ['a userinfo variant', { redirect_uri: 'https://app.example@evil.example/callback' }],
    ['a fragment variant', { redirect_uri: `${REDIRECT}#x` }],
    ['a loopback path variant', { redirect_uri: 'http://127.0.0.1:4000/native/../evil' }],
  ])('%s', async (_, overrides) => {
    const result = await validateAuthorizationRequest(env.DB, await params(overrides))
    expect(result).toMatchObject({ ok: false, show: 'page' })
    expect(JSON.stringify(result)).not.toContain('evil.example')
  })

  it('a disabled client', async () => {
    expect(await validateAuthorizationRequest(env.DB, await params({}, 'az-disabled'))).toMatchObject({
      ok: false,
      show: 'page',
    })
  })

  it('a repeated client_id or redirect_uri', async () => {
    for (const name of ['client_id', 'redirect_uri']) {
      const search = await params()
      search.append(name, name === 'client_id' ? 'az-app' : REDIRECT)
      expect(await validateAuthorizationRequest(env.DB, search)).toMatchObject({ ok: false, show: 'page' })
    }
  })
})

describe('authorize errors once the client is known: back to its redirect URI with state', () => {
  it.each([
    ['missing response_type', { response_type: null }, 'invalid_request'],
    ['response_type=token (implicit)', { response_type: 'token' }, 'unsupported_response_type'],
    ['missing PKCE', { code_challenge: null, code_challenge_method: null }, 'invalid_request'],
    ['plain PKCE (downgrade)', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['a challenge without its method', { code_challenge_method: null }, 'invalid_request'],
    ['a challenge that is not S256-shaped', { code_challenge: 'short' }, 'invalid_request'],
    ['a scope the client is not registered for', { scope: 'openid admin' }, 'invalid_scope'],
    ['a malformed scope', { scope: 'read "x"' }, 'invalid_scope'],
    ['an unknown prompt', { prompt: 'select_everything' }, 'invalid_request'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['a negative max_age', { max_age: '-1' }, 'invalid_request'],
    ['a request object', { request: 'eyJ...' }, 'request_not_supported'],
  ])('%s → %s', async (_, overrides, error) => {
    const result = await validateAuthorizationRequest(env.DB, await params(overrides))
    expect(result).toMatchObject({
      ok: false,
      show: 'redirect',
      redirectUri: REDIRECT,
      error,
      state: 'xyz-state',
    })
  })

  it('a client without the authorization_code grant → unauthorized_client', async () => {
    const result = await validateAuthorizationRequest(env.DB, await params({}, 'az-no-code-grant'))
    expect(result).toMatchObject({ ok: false, show: 'redirect', error: 'unauthorized_client' })
  })

  it('a repeated parameter → invalid_request', async () => {
    const search = await params()
    search.append('scope', 'write')
    expect(await validateAuthorizationRequest(env.DB, search)).toMatchObject({
      show: 'redirect',
      error: 'invalid_request',
    })
  })
})

describe('a valid authorize request', () => {
  it('keeps what the code will be bound to, the loopback redirect with its run-time port included', async () => {
    const search = await params({
      redirect_uri: 'http://127.0.0.1:53127/native',
      prompt: 'consent',
      max_age: '300',
      login_hint: 'alice',
    })
    const result = await validateAuthorizationRequest(env.DB, search)
    if (!result.ok) throw new Error(JSON.stringify(result))
    expect(result.request).toMatchObject({
      redirectUri: 'http://127.0.0.1:53127/native',
      state: 'xyz-state',
      requestedScopes: ['openid', 'read'],
      codeChallenge: search.get('code_challenge'),
      nonce: 'n-123',
      maxAge: 300,
      loginHint: 'alice',
    })
    expect([...result.request.prompt]).toEqual(['consent'])
  })
})

describe('the authorization response URL', () => {
  it('carries code, state and iss (RFC 9207) and keeps the registered query', () => {
    const url = new URL(
      authorizationResponseUrl('https://app.example/cb?tenant=a', ISSUER, { code: 'ac_x', state: 's 1&2' }),
    )
    expect(url.origin + url.pathname).toBe('https://app.example/cb')
    expect([...url.searchParams]).toEqual([
      ['tenant', 'a'],
      ['code', 'ac_x'],
      ['state', 's 1&2'],
      ['iss', ISSUER],
    ])
  })

  it('carries an error with state and iss, also to a native app scheme', () => {
    const href = authorizationResponseUrl('com.example.app:/cb', ISSUER, {
      error: 'access_denied',
      state: 'st',
    })
    expect(href).toBe(`com.example.app:/cb?error=access_denied&state=st&iss=${encodeURIComponent(ISSUER)}`)
  })
})

describe('what authorize does next', () => {
  async function validRequest(overrides: Record<string, string | null> = {}): Promise<AuthorizationRequest> {
    const result = await validateAuthorizationRequest(env.DB, await params(overrides), now)
    if (!result.ok) throw new Error(JSON.stringify(result))
    return result.request
  }
  const now = 1_800_000_000
  const user = { userId: 'u', authTime: now - 600 }

  it.each([
    ['no session → login', {}, undefined, false, 'login'],
    ['no session with prompt=none → login_required', { prompt: 'none' }, undefined, false, 'login_required'],
    ['signed in, no consent yet → consent', {}, user, false, 'consent'],
    [
      'signed in, no consent, prompt=none → consent_required',
      { prompt: 'none' },
      user,
      false,
      'consent_required',
    ],
    ['signed in, consent covers → issue', {}, user, true, 'issue'],
    ['prompt=login forces a new login', { prompt: 'login' }, user, true, 'login'],
    ['prompt=consent asks again', { prompt: 'consent' }, user, true, 'consent'],
    ['max_age exceeded → login', { max_age: '300' }, user, true, 'login'],
    [
      'max_age exceeded with prompt=none → login_required',
      { max_age: '60', prompt: 'none' },
      user,
      true,
      'login_required',
    ],
    ['max_age kept → issue', { max_age: '3600' }, user, true, 'issue'],
  ] as const)('%s', async (_, overrides, who, covers, expected) => {
    const decision = decideInteraction({
      request: await validRequest(overrides),
      user: who,
      consentCovers: covers,
      rolesCovered: true,
      now,
    })
    expect(decision.next === 'error' ? decision.error : decision.next).toBe(expected)
  })

  it('skips the consent page for a skip_consent client', async () => {
    const request = await validRequest()
    const decision = decideInteraction({
      request: { ...request, client: { ...request.client, skipConsent: true } },
      user,
      consentCovers: false,
      rolesCovered: true,
      now,
    })
    expect(decision).toEqual({ next: 'issue' })
  })

  it('asks again when the app would act with a role the user has not approved, even for skip_consent', async () => {
    const request = await validRequest()
    for (const skipConsent of [false, true]) {
      const decision = decideInteraction({
        request: { ...request, client: { ...request.client, skipConsent } },
        user,
        consentCovers: true,
        rolesCovered: false,
        now,
      })
      expect(decision).toEqual({ next: 'consent' })
    }
    const silent = decideInteraction({
      request: await validRequest({ prompt: 'none' }),
      user,
      consentCovers: true,
      rolesCovered: false,
      now,
    })
    expect(silent).toEqual({ next: 'error', error: 'consent_required' })
  })

  it('never asks for a first_party client (its tokens are the user own), unless prompt=consent', async () => {
    const request = await validRequest()
    const firstParty = { ...request, client: { ...request.client, firstParty: true } }
    expect(
      decideInteraction({ request: firstParty, user, consentCovers: false, rolesCovered: false, now }),
    ).toEqual({
      next: 'issue',
    })
    const prompted = await validRequest({ prompt: 'consent' })
    expect(
      decideInteraction({
        request: { ...prompted, client: { ...prompted.client, firstParty: true } },
        user,
        consentCovers: false,
        rolesCovered: false,
        now,
      }),
    ).toEqual({ next: 'consent' })
  })

  it('comes back from the login page without prompt=login (no loop) but with login_after, other prompts kept', () => {
    expect(returnToAfterLogin('/auth/authorize?client_id=a&prompt=login&state=s', now)).toBe(
      `/auth/authorize?client_id=a&state=s&login_after=${now}`,
    )
    expect(returnToAfterLogin('/auth/authorize?prompt=login+consent', now)).toBe(
      `/auth/authorize?prompt=consent&login_after=${now}`,
    )
  })

  it.each([
    ['a sign-in from before the request (the old session, no new login) → login', now - 1, 'login'],
    ['a sign-in at or after the request → issue', now, 'issue'],
  ] as const)('prompt=login came back with login_after: %s', async (_, authTime, expected) => {
    const request = await validRequest({ login_after: String(now - 5) })
    const decision = decideInteraction({
      request: { ...request, loginAfter: now },
      user: { userId: 'u', authTime },
      consentCovers: true,
      rolesCovered: true,
      now: now + 30,
    })
    expect(decision.next).toBe(expected)
  })

  it('a sign-in after login_after satisfies max_age=0 (no login loop once the user signed in)', async () => {
    const request = await validRequest({ max_age: '0', login_after: String(now - 5) })
    expect(request.loginAfter).toBe(now - 5)
    const decision = decideInteraction({
      request,
      user: { userId: 'u', authTime: now - 5 },
      consentCovers: true,
      rolesCovered: true,
      now: now + 2,
    })
    expect(decision.next).toBe('issue')
  })

  it('refuses a login_after in the future (no sign-in could satisfy it) with invalid_request', async () => {
    const result = await validateAuthorizationRequest(
      env.DB,
      await params({ login_after: String(now + 60) }),
      now,
    )
    expect(result).toMatchObject({ ok: false, show: 'redirect', error: 'invalid_request' })
  })
})
