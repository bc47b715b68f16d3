import { env } from 'cloudflare:test'
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { callApi, createUser } from '../../test/support/accounts'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  pkcePair,
  REDIRECT,
} from '../../test/support/authorization-code'
import { GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { loadConfig } from '../config/load'
import { nowSeconds } from '../db/json'
import { type AuthorizeOutcome, approveAuthorization, authorize, denyAuthorization } from './authorize'
import { validateAuthorizationRequest } from './authorize-request'

// The whole code flow minus the browser: the authorize service decides (login, consent, code or
// error), the consent approval issues the code, and the client redeems it at the real endpoint.
// /auth/authorize itself (cookies, pages) is wired onto browser sessions separately.

function context() {
  const loaded = loadConfig(env)
  if (!loaded.ok) throw new Error(loaded.problems.join('; '))
  return { db: env.DB, config: loaded.config }
}

async function authorizeQuery(clientId: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = await pkcePair()
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: 'st-1',
    nonce: 'nonce-1',
    ...extra,
  })
  return { params, verifier, pathAndQuery: `/auth/authorize?${params}` }
}

function redirectParams(outcome: AuthorizeOutcome): URLSearchParams {
  if (outcome.kind !== 'redirect') throw new Error(`expected a redirect, got ${JSON.stringify(outcome)}`)
  const url = new URL(outcome.location)
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT)
  return url.searchParams
}

async function signedIn(username: string, roles = ['user']) {
  const user = await createUser(username, roles)
  return { userId: user.id, authTime: nowSeconds() - 30, roles, amr: ['pwd'], browserSessionId: 'bs-1' }
}

describe('the authorization code flow through the authorize service', () => {
  it('login → consent → code (state, iss) → tokens that open /api and an ID token with the nonce', async () => {
    await createCodeClient('flow-spa')
    const query = await authorizeQuery('flow-spa', { prompt: 'login' })
    const anonymous = await authorize(context(), query.params, query.pathAndQuery, undefined)
    expect(anonymous).toMatchObject({ kind: 'login' })
    expect(anonymous.kind === 'login' && anonymous.returnTo).not.toMatch(/prompt=login/)

    const user = await signedIn('flow-alice')
    const again = await authorize(context(), new URLSearchParams(query.params), query.pathAndQuery, user)
    // prompt=login was dropped from return_to; the original still asks for a login.
    expect(again.kind).toBe('login')
    const back = new URLSearchParams(anonymous.kind === 'login' ? anonymous.returnTo.split('?')[1] : '')
    // Coming back with the sign-in from before the request is not the new login prompt=login asked for.
    expect((await authorize(context(), back, `/auth/authorize?${back}`, user)).kind).toBe('login')
    user.authTime = nowSeconds()
    const consent = await authorize(context(), back, `/auth/authorize?${back}`, user)
    expect(consent).toMatchObject({ kind: 'consent', scopes: ['openid', 'read'] })

    const validated = await validateAuthorizationRequest(env.DB, back)
    if (!validated.ok) throw new Error('invalid')
    const response = redirectParams(await approveAuthorization(context(), validated.request, user))
    expect(response.get('state')).toBe('st-1')
    expect(response.get('iss')).toBe(GATEWAY)
    const code = response.get('code') as string
    expect(code).toMatch(/^ac_/)

    const tokens = (await (
      await exchangeCode('flow-spa', { code, verifier: query.verifier })
    ).json()) as CodeTokens
    expect(await callApi(tokens.access_token)).toEqual({ status: 200, forwarded: 1 })
    const jwks = createLocalJWKSet(
      (await (await gatewayFetch('/.well-known/jwks.json')).json()) as JSONWebKeySet,
    )
    const { payload } = await jwtVerify(tokens.id_token as string, jwks, {
      issuer: GATEWAY,
      audience: 'flow-spa',
    })
    expect(payload).toMatchObject({
      nonce: 'nonce-1',
      sub: user.userId,
      auth_time: user.authTime,
      amr: ['pwd'],
    })

    // Consent is remembered: the next authorization goes straight back with a code.
    const next = await authorizeQuery('flow-spa')
    expect(
      redirectParams(await authorize(context(), next.params, next.pathAndQuery, user)).get('code'),
    ).toMatch(/^ac_/)
  })

  it('answers prompt=none without a session with login_required, state and iss at the redirect URI', async () => {
    await createCodeClient('flow-silent')
    const query = await authorizeQuery('flow-silent', { prompt: 'none' })
    const response = redirectParams(await authorize(context(), query.params, query.pathAndQuery, undefined))
    expect(Object.fromEntries(response)).toEqual({ error: 'login_required', state: 'st-1', iss: GATEWAY })
  })

  it('answers prompt=none without consent with consent_required', async () => {
    await createCodeClient('flow-silent-consent')
    const user = await signedIn('flow-bob')
    const query = await authorizeQuery('flow-silent-consent', { prompt: 'none' })
    const response = redirectParams(await authorize(context(), query.params, query.pathAndQuery, user))
    expect(response.get('error')).toBe('consent_required')
  })

  it('refuses scope escalation beyond the user (write for a plain user) with invalid_scope, no code', async () => {
    await createCodeClient('flow-greedy')
    const user = await signedIn('flow-carol')
    const query = await authorizeQuery('flow-greedy', { scope: 'openid write' })
    const response = redirectParams(await authorize(context(), query.params, query.pathAndQuery, user))
    expect(response.get('error')).toBe('invalid_scope')
    expect(response.has('code')).toBe(false)
  })

  it('sends access_denied with state and iss when the user denies', async () => {
    await createCodeClient('flow-denied')
    const query = await authorizeQuery('flow-denied')
    const validated = await validateAuthorizationRequest(env.DB, query.params)
    if (!validated.ok) throw new Error('invalid')
    const response = redirectParams(denyAuthorization(context(), validated.request))
    expect(response.get('error')).toBe('access_denied')
    expect(response.get('state')).toBe('st-1')
    expect(response.get('iss')).toBe(GATEWAY)
  })

  it('issues at once for a skip_consent (first-party) client', async () => {
    await createCodeClient('flow-first-party')
    await env.DB.prepare(
      "UPDATE oauth_clients SET first_party = 1 WHERE client_id = 'flow-first-party'",
    ).run()
    const user = await signedIn('flow-dave')
    const query = await authorizeQuery('flow-first-party')
    expect(
      redirectParams(await authorize(context(), query.params, query.pathAndQuery, user)).get('code'),
    ).toMatch(/^ac_/)
  })

  it('shows an unregistered redirect URI an error page and never a code or a redirect', async () => {
    await createCodeClient('flow-phished')
    const user = await signedIn('flow-erin')
    const query = await authorizeQuery('flow-phished', { redirect_uri: 'https://evil.example/cb' })
    const outcome = await authorize(context(), query.params, query.pathAndQuery, user)
    expect(outcome.kind).toBe('error_page')
    const rows = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM authorization_codes WHERE client_id = 'flow-phished'",
    ).first<{ n: number }>()
    expect(rows?.n).toBe(0)
  })
})
