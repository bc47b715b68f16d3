/**
 * CORS (CONTRACT "Delegated tokens"): /auth/token, /auth/revoke and /auth/userinfo answer a page on
 * a registered client's origin (its redirect URIs' origins and its allowed_origins), errors
 * included, never with credentials; every other origin gets no CORS header; /.well-known/* is `*`.
 * Requests go through createApp() in this file's module graph, so forgetClientOrigins() empties
 * the very cache they use.
 */
import { env } from 'cloudflare:test'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { bearer, createUser } from '../../test/support/accounts'
import { type CodeTokens, issueCode } from '../../test/support/authorization-code'
import { fetchWithEnv, GATEWAY } from '../../test/support/gateway'
import { type DbCall, spyDb } from '../../test/support/storage-spies'
import { forgetClientOrigins } from './client-origins'
import { insertClient, type NewClient } from './client-store'

const SPA = { id: 'cors-spa', redirect: 'https://spa.example/callback', origin: 'https://spa.example' }
const PARTNER = { id: 'cors-partner', origin: 'https://partner-cdn.example' }
const GONE = { id: 'cors-gone', origin: 'https://gone.example', extra: 'https://gone-cdn.example' }
const EVIL = 'https://evil.example'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

let userId: string

beforeAll(async () => {
  userId = (await createUser('cors-user')).id
  const common: Omit<NewClient, 'clientId'> = {
    name: 'CORS app',
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'profile', 'read'],
    roles: [],
  }
  await insertClient(env.DB, { ...common, clientId: SPA.id, redirectUris: [SPA.redirect] })
  await insertClient(env.DB, {
    ...common,
    clientId: PARTNER.id,
    redirectUris: ['https://partner.example/cb'],
    allowedOrigins: [PARTNER.origin],
  })
  await insertClient(env.DB, {
    ...common,
    clientId: GONE.id,
    redirectUris: [`${GONE.origin}/cb`],
    allowedOrigins: [GONE.extra],
  })
  await env.DB.prepare('UPDATE oauth_clients SET disabled = 1 WHERE client_id = ?1').bind(GONE.id).run()
})

beforeEach(() => forgetClientOrigins())

function request(path: string, init: RequestInit = {}, db?: D1Database): Promise<Response> {
  return fetchWithEnv(db ? { DB: db } : {}, path, init)
}

function preflight(path: string, origin: string, method = 'POST'): Promise<Response> {
  return request(path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  })
}

/** Every Access-Control-* header of a response. */
function corsHeaders(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')))
}

function varyNames(response: Response): string[] {
  return (response.headers.get('vary') ?? '').split(',').map((name) => name.trim().toLowerCase())
}

async function redeem(clientId: string, origin: string, redirectUri: string) {
  const issued = await issueCode(clientId, userId, { redirectUri, scopes: ['openid', 'read'] })
  const form = {
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: redirectUri,
    code_verifier: issued.verifier,
    client_id: clientId,
  }
  const response = await request('/auth/token', {
    method: 'POST',
    headers: { ...FORM, origin },
    body: new URLSearchParams(form).toString(),
  })
  return { response, form }
}

function expectAllowed(response: Response, origin: string): void {
  expect(response.headers.get('access-control-allow-origin')).toBe(origin)
  expect(response.headers.get('access-control-allow-credentials')).toBeNull()
  expect(varyNames(response)).toContain('origin')
}

describe('a page on a registered redirect URI’s origin', () => {
  it('passes the preflight of /auth/token: its origin, POST, authorization and content-type, no credentials', async () => {
    const response = await preflight('/auth/token', SPA.origin)
    expect(response.status).toBe(204)
    expectAllowed(response, SPA.origin)
    expect(response.headers.get('access-control-allow-methods')).toBe('POST')
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization,content-type')
  })

  it('reads the tokens of its code exchange, then the invalid_grant of a replay (400) and invalid_client (401)', async () => {
    const { response, form } = await redeem(SPA.id, SPA.origin, SPA.redirect)
    expect(response.status).toBe(200)
    expectAllowed(response, SPA.origin)
    expect(response.headers.get('cache-control')).toBe('no-store')

    const replay = await request('/auth/token', {
      method: 'POST',
      headers: { ...FORM, origin: SPA.origin },
      body: new URLSearchParams(form).toString(),
    })
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })
    expectAllowed(replay, SPA.origin)

    const unknown = await request('/auth/token', {
      method: 'POST',
      headers: { ...FORM, origin: SPA.origin },
      body: new URLSearchParams({ ...form, client_id: 'no-such-client' }).toString(),
    })
    expect(unknown.status).toBe(401)
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' })
    expectAllowed(unknown, SPA.origin)
  })

  it('reads /auth/userinfo (GET and POST, and a 401 with its challenge exposed) and revokes its token', async () => {
    const { response } = await redeem(SPA.id, SPA.origin, SPA.redirect)
    const tokens = (await response.json()) as CodeTokens

    const pre = await preflight('/auth/userinfo', SPA.origin, 'GET')
    expectAllowed(pre, SPA.origin)
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET,POST')

    for (const method of ['GET', 'POST']) {
      const info = await request('/auth/userinfo', {
        method,
        headers: { ...bearer(tokens.access_token), origin: SPA.origin },
      })
      expect(info.status).toBe(200)
      expect(await info.json()).toMatchObject({ sub: userId })
      expectAllowed(info, SPA.origin)
    }

    const refused = await request('/auth/userinfo', { headers: { origin: SPA.origin } })
    expect(refused.status).toBe(401)
    expectAllowed(refused, SPA.origin)
    expect(refused.headers.get('access-control-expose-headers')).toContain('www-authenticate')

    expectAllowed(await preflight('/auth/revoke', SPA.origin), SPA.origin)
    const revoked = await request('/auth/revoke', {
      method: 'POST',
      headers: { ...FORM, origin: SPA.origin },
      body: new URLSearchParams({ token: tokens.access_token, client_id: SPA.id }).toString(),
    })
    expect(revoked.status).toBe(200)
    expectAllowed(revoked, SPA.origin)
  })
})

describe('a page on an origin in a client’s allowed_origins', () => {
  it('passes the preflight and reads its token answer', async () => {
    expectAllowed(await preflight('/auth/token', PARTNER.origin), PARTNER.origin)
    const { response } = await redeem(PARTNER.id, PARTNER.origin, 'https://partner.example/cb')
    expect(response.status).toBe(200)
    expectAllowed(response, PARTNER.origin)
  })
})

describe('any other origin gets no CORS header at all', () => {
  it.each([
    ['an unregistered origin', EVIL],
    ['a look-alike suffix', 'https://spa.example.evil.example'],
    ['another scheme', 'http://spa.example'],
    ['another port', 'https://spa.example:8443'],
    ['a case variant', 'https://SPA.example'],
    ['a trailing slash', 'https://spa.example/'],
    ['the opaque origin of a sandboxed page', 'null'],
    ['a disabled client’s redirect URI origin', GONE.origin],
    ['a disabled client’s allowed origin', GONE.extra],
  ])('%s (%s): preflights and answers of every endpoint', async (_, origin) => {
    for (const [path, method] of [
      ['/auth/token', 'POST'],
      ['/auth/revoke', 'POST'],
      ['/auth/userinfo', 'GET'],
    ] as const) {
      const pre = await preflight(path, origin, method)
      expect(pre.status).toBe(204)
      expect(corsHeaders(pre), `${path} preflight`).toEqual({})
      const answer = await request(path, {
        method,
        headers: { ...FORM, origin },
        ...(method === 'POST' ? { body: 'grant_type=authorization_code&code=x&client_id=cors-spa' } : {}),
      })
      expect(answer.status).toBeGreaterThanOrEqual(400)
      expect(corsHeaders(answer), `${path} answer`).toEqual({})
      expect(varyNames(answer)).toContain('origin')
    }
  })

  it('the disabled client still exists: the same request from its origin would otherwise be allowed', async () => {
    await env.DB.prepare('UPDATE oauth_clients SET disabled = 0 WHERE client_id = ?1').bind(GONE.id).run()
    try {
      forgetClientOrigins()
      expectAllowed(await preflight('/auth/token', GONE.origin), GONE.origin)
    } finally {
      await env.DB.prepare('UPDATE oauth_clients SET disabled = 1 WHERE client_id = ?1').bind(GONE.id).run()
    }
  })
})

async function redeemIssued(issued: { code: string; verifier: string }, origin: string, db?: D1Database) {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: SPA.redirect,
    code_verifier: issued.verifier,
    client_id: SPA.id,
  }).toString()
  const response = await request('/auth/token', { method: 'POST', headers: { ...FORM, origin }, body }, db)
  return { response }
}

const ORIGIN_SET_QUERY = (call: DbCall) =>
  call.method !== 'prepare' && /allowed_origins FROM/.test(call.sql ?? '')

describe('the origin set stays off the hot path', () => {
  it('is not read for a request without Origin, nor from the gateway’s own origin; read once for the first other origin, then cached', async () => {
    const spy = spyDb(env.DB)
    const body = 'grant_type=client_credentials'
    await request('/auth/token', { method: 'POST', headers: FORM, body }, spy.db)
    await request('/auth/token', { method: 'POST', headers: { ...FORM, origin: GATEWAY }, body }, spy.db)
    expect(spy.calls.filter(ORIGIN_SET_QUERY)).toEqual([])
    const first = await request(
      '/auth/token',
      { method: 'POST', headers: { ...FORM, origin: SPA.origin }, body },
      spy.db,
    )
    const again = await request(
      '/auth/token',
      { method: 'POST', headers: { ...FORM, origin: SPA.origin }, body },
      spy.db,
    )
    const other = await request(
      '/auth/token',
      { method: 'POST', headers: { ...FORM, origin: EVIL }, body },
      spy.db,
    )
    expectAllowed(first, SPA.origin)
    expectAllowed(again, SPA.origin)
    expect(corsHeaders(other)).toEqual({})
    expect(spy.calls.filter(ORIGIN_SET_QUERY)).toHaveLength(1)
  })

  it('a D1 failure while loading the set is a 503 with a request id and no CORS header, and spends no code', async () => {
    const issued = await issueCode(SPA.id, userId, { redirectUri: SPA.redirect })
    const failing = spyDb(env.DB, { failWhen: ORIGIN_SET_QUERY }).db
    const { response } = await redeemIssued(issued, SPA.origin, failing)
    expect(response.status).toBe(503)
    const body = (await response.json()) as { error: string; request_id: string }
    expect(body.error).toBe('storage_unavailable')
    expect(body.request_id).toBe(response.headers.get('x-request-id'))
    expect(corsHeaders(response)).toEqual({})
    const pre = await request(
      '/auth/token',
      { method: 'OPTIONS', headers: { origin: SPA.origin, 'access-control-request-method': 'POST' } },
      failing,
    )
    expect(pre.status).toBe(503)
    expect(corsHeaders(pre)).toEqual({})
    // The code was not spent: the same exchange succeeds once D1 answers.
    const retry = await redeemIssued(issued, SPA.origin)
    expect(retry.response.status).toBe(200)
  })
})

describe('/.well-known/* is public metadata: `*`, never with credentials', () => {
  it.each([
    '/.well-known/openid-configuration',
    '/.well-known/oauth-authorization-server',
    '/.well-known/jwks.json',
  ])('%s, from any origin, preflight included', async (path) => {
    const answer = await request(path, { headers: { origin: EVIL } })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('access-control-allow-origin')).toBe('*')
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull()
    const pre = await request(path, {
      method: 'OPTIONS',
      headers: { origin: EVIL, 'access-control-request-method': 'GET' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toContain('GET')
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull()
  })
})
