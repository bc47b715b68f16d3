import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { adminJson, adminToken } from '../../test/support/admin'
import { pkcePair, REDIRECT } from '../../test/support/authorization-code'
import { gatewayFetch, UPSTREAM } from '../../test/support/gateway'
import { browserLogin } from '../../test/support/sessions'
import { spyKv } from '../../test/support/storage-spies'
import { createApp } from '../app'
import { parseConfig } from '../config/load'
import { KV_MIN_TTL_SECONDS } from '../db/kv-keys'
import type { Env } from '../env'
import { clientFromDocument } from './client-metadata-document'
import { ClientMetadataError } from './fetch-guard'

// Client ID Metadata Documents end to end inside workerd. The stand-in document host is the test
// upstream on loopback over http, which the fetch guard refuses by design; it is let through only
// by the local-only setting, which in turn needs a loopback ISSUER. Refusals of real-world URLs
// (private ranges, redirects, sizes, timeouts) are in fetch-guard.test.ts.

const LOCAL_ISSUER = 'http://127.0.0.1:8787'
const STAND_IN_HOST = new URL(UPSTREAM).host
const LOCAL: Partial<Env> = {
  ISSUER: LOCAL_ISSUER,
  SETTINGS: {
    ...(env.SETTINGS as Record<string, unknown>),
    client_metadata_document_allow_hosts: [STAND_IN_HOST],
  } as Env['SETTINGS'],
}

async function local(path: string, init: RequestInit = {}, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await createApp().fetch(
    new Request(`${LOCAL_ISSUER}${path}`, init),
    { ...env, ...LOCAL, ...overrides },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

function documentUrl(name: string): string {
  return `${UPSTREAM}/__documents/${name}`
}

function documentFor(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: url,
    client_name: 'Friendly Agent',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    ...extra,
  }
}

/** Serves `document` at a fresh stand-in URL; returns the URL (the client_id). */
async function publish(
  name: string,
  document: (url: string) => unknown = (url) => documentFor(url),
  options: { status?: number; headers?: Record<string, string> } = {},
): Promise<string> {
  const url = documentUrl(`${name}-${crypto.randomUUID()}`)
  const response = await fetch(url, {
    method: 'PUT',
    body: JSON.stringify({
      status: options.status,
      headers: options.headers ?? { 'content-type': 'application/json', 'cache-control': 'max-age=600' },
      body: JSON.stringify(document(url)),
    }),
  })
  expect(response.status).toBe(204)
  return url
}

async function hits(url: string): Promise<number> {
  const name = url.slice(`${UPSTREAM}/__documents/`.length)
  return (await fetch(`${UPSTREAM}/__document_hits/${name}`)).json()
}

async function authorizeQuery(clientId: string, redirectUri = REDIRECT) {
  const { verifier, challenge } = await pkcePair()
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: 'cimd-state',
  })
  return { params, verifier }
}

async function auditRows(clientId: string): Promise<{ type: string; outcome: string; details: string }[]> {
  const { results } = await env.DB.prepare(
    'SELECT type, outcome, details FROM audit_events WHERE client_id = ?1 AND type = ?2 ORDER BY id',
  )
    .bind(clientId, 'client_metadata_fetched')
    .all<{ type: string; outcome: string; details: string }>()
  return results
}

describe('the document as a client', () => {
  const url = 'https://agent.example.com/oauth/client.json'
  const options = { knownScopes: ['openid', 'read'] }

  it('is public, self-registered and delegated, with the redirect URIs it lists', () => {
    const client = clientFromDocument(url, documentFor(url), options)
    expect(client).toMatchObject({
      clientId: url,
      name: 'Friendly Agent',
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'read'],
      firstParty: false,
      skipConsent: false,
      allowedRoles: [],
      allowedOrigins: [],
      selfRegistered: true,
      metadataDocument: { host: 'agent.example.com' },
    })
    expect(client.secretHash).toBeUndefined()
  })

  it.each([
    ['a document claiming first_party', { first_party: true }, /only the operator/],
    ['a document asking to skip consent', { skip_consent: true }, /only the operator/],
    ['a document granting itself roles', { allowed_roles: ['admin'] }, /only the operator/],
    ['a document naming CORS origins', { allowed_origins: ['https://evil.example'] }, /only the operator/],
    ['a confidential auth method', { token_endpoint_auth_method: 'private_key_jwt' }, /"none"/],
    ['the client_credentials grant', { grant_types: ['client_credentials'] }, /grant_types/],
    ['no redirect URIs', { redirect_uris: [] }, /redirect_uris/],
    ['an http redirect URI off loopback', { redirect_uris: ['http://evil.example/cb'] }, /redirect_uri/],
    ['a name with direction overrides', { client_name: 'Good\u202eApp' }, /client_name/],
    ['a javascript: client_uri', { client_uri: 'javascript:alert(1)' }, /client_uri/],
  ])('refuses %s', (_title, extra, message) => {
    expect(() => clientFromDocument(url, documentFor(url, extra), options)).toThrow(message)
  })

  it('refuses a document whose client_id is not exactly its URL', () => {
    for (const other of [`${url}/`, url.toUpperCase(), 'https://agent.example.com/other.json'])
      expect(() => clientFromDocument(url, documentFor(other), options)).toThrow(ClientMetadataError)
  })
})

describe('the local-only stand-in setting', () => {
  it('is refused unless ISSUER is a loopback origin', () => {
    const settings = { client_metadata_document_allow_hosts: ['127.0.0.1:8788'] }
    const deployed = parseConfig({ ...env, ISSUER: 'https://auth.example.com', SETTINGS: settings })
    expect(deployed.ok).toBe(false)
    expect(deployed.ok ? [] : deployed.problems).toContainEqual(
      expect.stringContaining('SETTINGS.client_metadata_document_allow_hosts'),
    )
    expect(parseConfig({ ...env, ISSUER: LOCAL_ISSUER, SETTINGS: settings }).ok).toBe(true)
    const notLoopback = parseConfig({
      ...env,
      ISSUER: LOCAL_ISSUER,
      SETTINGS: { client_metadata_document_allow_hosts: ['10.0.0.5:80'] },
    })
    expect(notLoopback.ok).toBe(false)
  })

  it('is what lets the loopback stand-in through: without it the guard refuses, and nothing is fetched', async () => {
    const url = await publish('not-allowed')
    const asHttp = await gatewayFetch(`/auth/authorize?${(await authorizeQuery(url)).params}`)
    expect(asHttp.status).toBe(400)
    expect(await asHttp.text()).toContain('not registered')
    const asHttps = url.replace('http://', 'https://').replace(/:\d+\//, '/')
    const refused = await gatewayFetch(`/auth/authorize?${(await authorizeQuery(asHttps)).params}`)
    expect(refused.status).toBe(400)
    expect(await refused.text()).toMatch(/metadata document cannot be used.*private, loopback/)
    const metadata = await gatewayFetch(
      `/auth/authorize?${(await authorizeQuery('https://169.254.169.254/latest/meta-data')).params}`,
    )
    expect(await metadata.text()).toMatch(/metadata document cannot be used/)
    expect(await hits(url)).toBe(0)
  })
})

describe('a client known by its metadata document', () => {
  it('goes through login, consent naming both hosts, code + PKCE and refresh, with one fetch and one first-use event', async () => {
    const url = await publish('flow')
    await createUser('cimd-alice')
    const browser = { origin: LOCAL_ISSUER, 'sec-fetch-site': 'same-origin' }
    const login = await browserLogin('cimd-alice', {
      through: (path, init) => local(path, init),
      headers: browser,
    })
    const { params, verifier } = await authorizeQuery(url)
    const page = await local(`/auth/authorize?${params}`, { headers: { cookie: login.cookie } })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<strong>https://app.example</strong>') // where the code goes
    expect(html).toContain(`<strong>${STAND_IN_HOST}</strong>`) // who published the document
    expect(html).toContain('Friendly Agent')
    expect(html).not.toContain('<img')

    const allow = await local('/auth/authorize', {
      method: 'POST',
      redirect: 'manual',
      headers: { ...browser, cookie: login.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        csrf: login.csrf,
        authorization_query: params.toString(),
        decision: 'allow',
      }),
    })
    expect(allow.status).toBe(303)
    const location = new URL(allow.headers.get('location') as string)
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT)
    const code = location.searchParams.get('code') as string

    const token = await local('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        client_id: url,
      }),
    })
    expect(token.status).toBe(200)
    const tokens = (await token.json()) as { access_token: string; refresh_token: string; scope: string }
    const claims = decodeJwt(tokens.access_token)
    expect(claims.client_id).toBe(url)
    expect(claims.first_party).toBeUndefined() // delegated
    // Self-registered without `resource`: the only MCP resource, never the gateway's own audience.
    expect(claims.aud).toBe(`${LOCAL_ISSUER}/mcp`)

    const refreshed = await local('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: url,
      }),
    })
    expect(refreshed.status).toBe(200)

    // Authorize, consent, token and refresh: the document was fetched once, then read from KV.
    expect(await hits(url)).toBe(1)
    const events = await auditRows(url)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ outcome: 'success' })
    expect(JSON.parse(events[0]?.details ?? '{}')).toMatchObject({
      first_use: true,
      client_name: 'Friendly Agent',
    })
    const seen = await env.DB.prepare('SELECT url, client_name FROM client_metadata_documents WHERE url = ?1')
      .bind(url)
      .first()
    expect(seen).toEqual({ url, client_name: 'Friendly Agent' })
  })

  it('caches the document in KV for at least KV minimum TTL, even when it asks for no-store', async () => {
    const url = await publish('ttl', undefined, {
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    })
    const spy = spyKv(env.KV)
    const response = await local(`/auth/authorize?${(await authorizeQuery(url)).params}`, {}, { KV: spy.kv })
    expect(response.status).toBe(302) // to the login page: the client was valid
    const put = spy.calls.find((call) => call.method === 'put' && call.key?.startsWith('cimd:'))
    const ttl = (put?.options as { expirationTtl?: number } | undefined)?.expirationTtl ?? 0
    // Production KV rejects an expirationTtl below 60 s; local workerd does not, so only this catches it.
    expect(ttl).toBeGreaterThanOrEqual(KV_MIN_TTL_SECONDS)
    expect(ttl).toBe(300)
  })

  it('matches redirect_uri exactly against the document: another URI is an error page, never a redirect', async () => {
    const url = await publish('redirect-mismatch')
    for (const other of [
      'https://evil.example/callback',
      `${REDIRECT}/x`,
      'https://app.example/callback?x=1',
    ]) {
      const response = await local(`/auth/authorize?${(await authorizeQuery(url, other)).params}`)
      expect(response.status).toBe(400)
      expect(response.headers.get('location')).toBeNull()
      expect(await response.text()).toContain('not registered for this client')
    }
  })
})

describe('the admin API', () => {
  it('lists the documents used and forgets one: its next use fetches it again as a first use', async () => {
    const url = await publish('admin')
    const query = async () => `/auth/authorize?${(await authorizeQuery(url)).params}`
    expect((await local(await query())).status).toBe(302)
    const { token } = await adminToken('cimd-admin')
    const list = await adminJson<{ items: { id: string; client_id: string; client_name: string }[] }>(
      token,
      'GET',
      '/admin/client-metadata-documents?limit=200',
    )
    const item = list.items.find((entry) => entry.client_id === url)
    expect(item).toMatchObject({ client_name: 'Friendly Agent' })
    await adminJson(token, 'DELETE', `/admin/client-metadata-documents/${item?.id}`, undefined, 204)
    await adminJson(token, 'DELETE', `/admin/client-metadata-documents/${item?.id}`, undefined, 404)
    expect((await local(await query())).status).toBe(302)
    expect(await hits(url)).toBe(2)
    expect((await auditRows(url)).filter((event) => event.outcome === 'success')).toHaveLength(2)
  })
})

describe('a document the gateway refuses', () => {
  it.each([
    ['claims first_party', (url: string) => documentFor(url, { first_party: true }), {}, /only the operator/],
    [
      'names another client_id',
      () => documentFor('https://other.example/client.json'),
      {},
      /another client_id/,
    ],
    [
      'is served as HTML',
      (url: string) => documentFor(url),
      { headers: { 'content-type': 'text/html' } },
      /application\/json/,
    ],
    [
      'redirects elsewhere',
      () => ({}),
      { status: 302, headers: { location: 'http://169.254.169.254/' } },
      /redirects/,
    ],
    ['is not found', () => ({}), { status: 404, headers: { 'content-type': 'application/json' } }, /404/],
  ])(
    '%s: an error page at authorize, 401 at the token endpoint, audited with the reason',
    async (_title, document, options, message) => {
      const url = await publish('refused', document, options)
      const page = await local(`/auth/authorize?${(await authorizeQuery(url)).params}`)
      expect(page.status).toBe(400)
      expect(page.headers.get('location')).toBeNull()
      expect(await page.text()).toMatch(message)
      const token = await local('/auth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'x',
          redirect_uri: REDIRECT,
          code_verifier: 'y'.repeat(43),
          client_id: url,
        }),
      })
      expect(token.status).toBe(401)
      expect(((await token.json()) as { error: string }).error).toBe('invalid_client')
      const events = await auditRows(url)
      expect(events.length).toBeGreaterThan(0)
      expect(events.every((event) => event.outcome === 'failure')).toBe(true)
      const details = JSON.parse(events[0]?.details ?? '{}') as Record<string, unknown>
      expect(typeof details.reason).toBe('string')
      // Never the body.
      expect(JSON.stringify(events)).not.toContain('Friendly Agent')
    },
  )
})

describe('a refused document is remembered for a minute', () => {
  it('a client_id repeated in a loop costs one fetch, not one per request', async () => {
    const url = await publish('refused-loop', (at) => documentFor(at, { first_party: true }))
    for (let attempt = 0; attempt < 3; attempt++) {
      const page = await local(`/auth/authorize?${(await authorizeQuery(url)).params}`)
      expect(page.status).toBe(400)
      expect(await page.text()).toMatch(/only the operator/)
    }
    expect(await hits(url)).toBe(1)
  })
})

describe('authorization server metadata', () => {
  it('announces client_id_metadata_document_supported', async () => {
    const body = (await (await gatewayFetch('/.well-known/oauth-authorization-server')).json()) as Record<
      string,
      unknown
    >
    expect(body.client_id_metadata_document_supported).toBe(true)
  })
})
