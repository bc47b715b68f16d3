/**
 * POST /auth/clients (RFC 7591) as a registrant meets it: what it gets, what it is refused, the
 * per-address throttle, the setting that turns it off, and CORS for browser-based MCP clients.
 * The lifecycle of a registered client (consent, code flow, expiry, admin) is in
 * client-registration-lifecycle.test.ts.
 */

import { env, SELF } from 'cloudflare:test'
import { discoverAuthorizationServerMetadata, registerClient } from '@modelcontextprotocol/sdk/client/auth.js'
import { describe, expect, it } from 'vitest'
import { waitForAudit } from '../../test/support/admin'
import { fetchWithEnv, GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { sha256Hex } from '../crypto/bytes'
import { MAX_FORM_BYTES } from '../http/form'

interface Registered {
  client_id: string
  client_id_issued_at: number
  client_secret?: string
  [field: string]: unknown
}

/** A registration from `ip` (each test its own, so throttle windows never meet). */
function register(body: unknown, ip: string, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch('/auth/clients', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

function withSettings(changes: Record<string, unknown>) {
  return { SETTINGS: { ...(env.SETTINGS as Record<string, unknown>), ...changes } }
}

async function storedClient(clientId: string): Promise<Record<string, unknown> | null> {
  return env.DB.prepare('SELECT * FROM oauth_clients WHERE client_id = ?1').bind(clientId).first()
}

async function dynamicClients(): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT COUNT(*) AS n FROM oauth_clients WHERE registration = 'dynamic'",
  ).first<{ n: number }>()
  return row?.n ?? 0
}

/** A refusal: the status, the error code, the gateway's request_id, and no client stored. */
async function expectRefused(response: Response, status: number, error: string, before: number) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as Record<string, string>
  expect(body).toMatchObject({ error, request_id: response.headers.get('x-request-id') })
  expect(body.error_description).toBeTruthy()
  expect(await dynamicClients()).toBe(before)
  return body
}

async function supportedScopesOfMetadata(): Promise<string[]> {
  const response = await gatewayFetch('/.well-known/oauth-authorization-server')
  return ((await response.json()) as { scopes_supported: string[] }).scopes_supported
}

const MINIMAL = { redirect_uris: ['https://mcp-client.example/callback'] }

describe('POST /auth/clients registers a public client', () => {
  it('answers 201 with the RFC 7591 §3.2.1 fields and stores a public, delegated, self-registered client', async () => {
    const response = await register(
      { ...MINIMAL, client_name: 'Claude', logo_uri: 'https://x.example/l.png', contacts: ['a@b.example'] },
      '198.51.100.1',
    )
    expect(response.status).toBe(201)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Registered
    expect(body.client_id).toMatch(/^dcr_[A-Za-z0-9_-]{22}$/)
    expect(Math.abs(body.client_id_issued_at - Date.now() / 1000)).toBeLessThan(60)
    expect(body).toEqual({
      client_id: body.client_id,
      client_id_issued_at: body.client_id_issued_at,
      redirect_uris: MINIMAL.redirect_uris,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // Without a request: every scope the metadata lists (role_scopes and the identity scopes).
      scope: (await supportedScopesOfMetadata()).join(' '),
      client_name: 'Claude',
    })
    expect(await storedClient(body.client_id)).toMatchObject({
      secret_hash: null,
      name: 'Claude',
      redirect_uris: JSON.stringify(MINIMAL.redirect_uris),
      skip_consent: 0,
      first_party: 0,
      allowed_roles: '[]',
      allowed_origins: '[]',
      registration: 'dynamic',
      last_used_at: null,
    })
  })

  it('is what the MCP TypeScript SDK expects: its own discovery finds the endpoint and its schema accepts the answer', async () => {
    const fetchFn = (url: string | URL, init?: RequestInit) => SELF.fetch(String(url), init)
    const metadata = await discoverAuthorizationServerMetadata(GATEWAY, { fetchFn })
    const registered = await registerClient(GATEWAY, {
      metadata,
      // What the SDK's example client (examples/mcp-client) registers.
      clientMetadata: {
        redirect_uris: ['http://127.0.0.1:53682/callback'],
        client_name: 'MCP SDK',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      fetchFn,
    })
    expect(registered).toMatchObject({ client_name: 'MCP SDK', token_endpoint_auth_method: 'none' })
    expect(await storedClient(registered.client_id)).toMatchObject({ registration: 'dynamic' })
  })

  it('records client_registered in the audit log, with the redirect host and without any secret', async () => {
    const response = await register({ ...MINIMAL, client_name: 'Audited' }, '198.51.100.2')
    const { client_id } = (await response.json()) as Registered
    const event = await waitForAudit((e) => e.type === 'client_registered' && e.client_id === client_id)
    expect(event).toMatchObject({
      outcome: 'success',
      actor_id: null,
      ip: '198.51.100.2',
      details: {
        client_name: 'Audited',
        redirect_hosts: ['https://mcp-client.example'],
        confidential: false,
        grant_types: ['authorization_code', 'refresh_token'],
      },
    })
  })

  it('narrows a requested scope to what the settings allow (RFC 7591 §2), unknown scopes dropped', async () => {
    const wide = await register({ ...MINIMAL, scope: 'read bogus openid' }, '198.51.100.3')
    expect(((await wide.json()) as Registered).scope).toBe('openid read')
    const capped = await fetchWithEnv(
      withSettings({ dynamic_clients: { scopes: ['openid', 'read'] } }),
      '/auth/clients',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...MINIMAL, scope: 'read write admin' }),
      },
    )
    const body = (await capped.json()) as Registered
    expect(body.scope).toBe('read')
    expect((await storedClient(body.client_id))?.scopes).toBe('["read"]')
  })

  it('gives a secret once, stored only as its hash, when the operator allows confidential self-registration', async () => {
    const response = await fetchWithEnv(
      withSettings({ dynamic_clients: { allow_confidential: true } }),
      '/auth/clients',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...MINIMAL, token_endpoint_auth_method: 'client_secret_basic' }),
      },
    )
    expect(response.status).toBe(201)
    const body = (await response.json()) as Registered
    expect(body).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      client_secret_expires_at: 0,
    })
    expect(body.client_secret).toMatch(/^gws_/)
    expect((await storedClient(body.client_id))?.secret_hash).toBe(await sha256Hex(body.client_secret ?? ''))
  })
})

describe('POST /auth/clients refuses', () => {
  it.each([
    ['a relative URI', ['/callback'], 'absolute'],
    [
      'plain http to a host that is not loopback',
      ['http://mcp-client.example/callback'],
      'http is allowed only',
    ],
    ['a fragment', ['https://mcp-client.example/callback#x'], 'fragment'],
    ['userinfo (a look-alike host)', ['https://mcp-client.example@evil.example/cb'], 'userinfo'],
    ['a non-canonical spelling', ['https://MCP-client.example/callback'], 'canonical'],
    ['no redirect URI at all', [], 'at least one'],
  ])(
    'a redirect URI with %s: 400 invalid_redirect_uri (the operator rules, redirect-uri.ts)',
    async (_, uris, reason) => {
      const before = await dynamicClients()
      const body = await expectRefused(
        await register({ redirect_uris: uris }, '198.51.100.10'),
        400,
        'invalid_redirect_uri',
        before,
      )
      expect(body.error_description).toContain(reason)
    },
  )

  it.each([
    ['first_party', true],
    ['first_party', false],
    ['skip_consent', true],
    ['allowed_roles', ['admin']],
    ['allowed_origins', ['https://evil.example']],
  ])('a registrant claiming %s (%j): 400 invalid_client_metadata, nothing stored', async (field, value) => {
    const before = await dynamicClients()
    const body = await expectRefused(
      await register({ ...MINIMAL, [field]: value }, '198.51.100.11'),
      400,
      'invalid_client_metadata',
      before,
    )
    expect(body.error_description).toContain(field)
  })

  it.each([
    ['a secret when the operator has not allowed one', { token_endpoint_auth_method: 'client_secret_basic' }],
    ['client_secret_post likewise', { token_endpoint_auth_method: 'client_secret_post' }],
    ['an auth method the gateway does not serve', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['the client_credentials grant', { grant_types: ['authorization_code', 'client_credentials'] }],
    ['the password grant', { grant_types: ['password'] }],
    ['refresh_token without authorization_code', { grant_types: ['refresh_token'] }],
    ['the implicit response type', { response_types: ['token'] }],
    ['a client_name past 100 characters', { client_name: 'x'.repeat(101) }],
    ['a client_name with a line break', { client_name: 'Claude\nAdmin console' }],
    ['a scope that is not a string', { scope: ['read'] }],
  ])('%s: 400 invalid_client_metadata, nothing stored', async (_, metadata) => {
    const before = await dynamicClients()
    await expectRefused(
      await register({ ...MINIMAL, ...metadata }, '198.51.100.12'),
      400,
      'invalid_client_metadata',
      before,
    )
  })

  it('a body that is not JSON (a form, malformed JSON, a JSON array): 400 invalid_client_metadata', async () => {
    const before = await dynamicClients()
    const form = await register('redirect_uris=https%3A%2F%2Fa.example%2Fcb', '198.51.100.13', {
      'content-type': 'application/x-www-form-urlencoded',
    })
    const refused = await expectRefused(form, 400, 'invalid_client_metadata', before)
    expect(refused.error_description).toContain('application/json')
    await expectRefused(
      await register('{"redirect_uris": [', '198.51.100.13'),
      400,
      'invalid_client_metadata',
      before,
    )
    await expectRefused(await register('[]', '198.51.100.13'), 400, 'invalid_client_metadata', before)
  })

  it('an oversized body, unread past the cap: 413', async () => {
    const before = await dynamicClients()
    const body = JSON.stringify({ ...MINIMAL, padding: 'x'.repeat(MAX_FORM_BYTES) })
    await expectRefused(await register(body, '198.51.100.14'), 413, 'payload_too_large', before)
  })
})

describe('the per-address throttle', () => {
  it('admits 10 registrations an hour from one address, answers the 11th 429 with Retry-After, and audits it', async () => {
    const ip = '203.0.113.50'
    for (let i = 0; i < 10; i++) expect((await register(MINIMAL, ip)).status).toBe(201)
    const before = await dynamicClients()
    const refused = await expectRefused(await register(MINIMAL, ip), 429, 'rate_limited', before)
    expect(refused.request_id).toBeTruthy()
    const again = await register(MINIMAL, ip)
    expect(again.status).toBe(429)
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0)
    // Another address (another IPv6 /64 too) has its own budget.
    expect((await register(MINIMAL, '203.0.113.51')).status).toBe(201)
    expect(
      await waitForAudit(
        (e) => e.type === 'throttled' && e.ip === ip && e.details.via === 'client_registration',
      ),
    ).toMatchObject({ outcome: 'failure' })
  })

  it('counts an IPv6 client by its /64, so rotating addresses inside it buys nothing', async () => {
    for (let i = 1; i <= 10; i++) expect((await register(MINIMAL, `2001:db8:77:1::${i}`)).status).toBe(201)
    expect((await register(MINIMAL, '2001:db8:77:1:ffff::1')).status).toBe(429)
  })
})

describe('SETTINGS.dynamic_client_registration', () => {
  it('is on as shipped: the metadata advertises registration_endpoint at ISSUER/auth/clients', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const metadata = (await (await gatewayFetch(path)).json()) as Record<string, unknown>
      expect(metadata.registration_endpoint).toBe(`${GATEWAY}/auth/clients`)
    }
  })

  it('off: the metadata has no registration_endpoint and the endpoint refuses with 403, storing nothing', async () => {
    const off = withSettings({ dynamic_client_registration: false })
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const metadata = (await (await fetchWithEnv(off, path)).json()) as Record<string, unknown>
      expect(metadata.authorization_endpoint).toBe(`${GATEWAY}/auth/authorize`)
      expect(metadata).not.toHaveProperty('registration_endpoint')
    }
    const before = await dynamicClients()
    const response = await fetchWithEnv(off, '/auth/clients', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': '198.51.100.20' },
      body: JSON.stringify(MINIMAL),
    })
    await expectRefused(response, 403, 'registration_disabled', before)
  })
})

describe('CORS on /auth/clients (browser-based MCP clients register cross-origin)', () => {
  const origin = 'https://inspector.example'

  it('answers a preflight from any origin, without credentials', async () => {
    const response = await gatewayFetch('/auth/clients', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-allow-methods')).toContain('POST')
    expect(response.headers.get('access-control-allow-headers')).toContain('content-type')
    expect(response.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('marks the answer and the refusals readable from any origin, never with credentials', async () => {
    const created = await register(MINIMAL, '198.51.100.30', { origin })
    expect(created.status).toBe(201)
    expect(created.headers.get('access-control-allow-origin')).toBe('*')
    const refused = await register({ redirect_uris: ['http://evil.example/cb'] }, '198.51.100.30', { origin })
    expect(refused.status).toBe(400)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(refused.headers.get('access-control-allow-credentials')).toBeNull()
  })
})
