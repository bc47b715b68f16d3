/**
 * An MCP server behind the gateway (wrangler.toml's `/mcp` route, forwarding to the test upstream):
 * RFC 9728 discovery, the MCP form of refusals, RFC 8707 audience binding, per-tool rules and the
 * bodies the gateway refuses to judge. The upstream records what it receives, so "never forwarded"
 * is checked, not assumed.
 */
import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login, tokenRequest } from '../../test/support/accounts'
import { createCodeClient, exchangeCode, issueCode, REDIRECT } from '../../test/support/authorization-code'
import {
  fetchWithEnv,
  GATEWAY,
  gatewayFetch,
  testId,
  UPSTREAM,
  upstreamReceived,
} from '../../test/support/gateway'
import { parseConfig } from '../config/load'
import { validateAuthorizationRequest } from '../oauth/authorize-request'
import { revokeAccessToken } from '../revocation'

const RESOURCE = `${GATEWAY}/mcp`
const METADATA = `${GATEWAY}/.well-known/oauth-protected-resource/mcp`

let clients = 0

/** An access token (and refresh token) issued through the code flow for `resource`. */
async function mcpTokens(
  roles: string[] = ['user'],
  options: { resource?: string; scopes?: string[] } = {},
): Promise<{ access_token: string; refresh_token: string; clientId: string }> {
  const clientId = `mcp-client-${++clients}-${testId().slice(0, 8)}`
  await createCodeClient(clientId)
  const user = await createUser(`mcp-${testId()}`, roles)
  const issued = await issueCode(clientId, user.id, {
    scopes: options.scopes ?? ['read', 'write'],
    resource: 'resource' in options ? options.resource : RESOURCE,
  })
  const response = await exchangeCode(clientId, issued)
  expect(response.status).toBe(200)
  return { ...((await response.json()) as { access_token: string; refresh_token: string }), clientId }
}

function rpc(
  message: unknown,
  headers: Record<string, string> = {},
  init: Omit<RequestInit, 'body' | 'headers'> = {},
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof message === 'string' ? message : JSON.stringify(message),
    ...init,
  }
}

function toolCall(id: number | string, name: string, args: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }
}

async function jsonRpcError(response: Response) {
  return (await response.json()) as {
    jsonrpc: string
    id: unknown
    error: { code: number; message: string; data: { error: string; request_id: string } }
  }
}

describe('RFC 9728 discovery', () => {
  it('serves the metadata at the path-suffixed and the bare well-known URL, as JSON with CORS for any origin', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const response = await gatewayFetch(path, {
        headers: { origin: 'https://inspector.example', accept: 'text/html' },
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toContain('application/json')
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(await response.json()).toEqual({
        resource: RESOURCE,
        authorization_servers: [GATEWAY],
        scopes_supported: ['read', 'write'],
        bearer_methods_supported: ['header'],
        resource_name: expect.stringContaining('/mcp'),
      })
    }
  })

  it('answers a CORS preflight for the metadata', async () => {
    const response = await gatewayFetch('/.well-known/oauth-protected-resource/mcp', {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET' },
    })
    expect(response.status).toBeLessThan(300)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('accepts a trailing slash and builds every URL from ISSUER, whatever Host and X-Forwarded-Proto say', async () => {
    const response = await gatewayFetch('/.well-known/oauth-protected-resource/mcp/', {
      headers: { host: 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
    })
    expect(response.status).toBe(200)
    const metadata = (await response.json()) as { resource: string; authorization_servers: string[] }
    expect(metadata.resource).toBe(RESOURCE)
    expect(metadata.authorization_servers).toEqual([GATEWAY])
  })

  it('answers 404 JSON (not a page) for a path that is no MCP resource', async () => {
    const response = await gatewayFetch('/.well-known/oauth-protected-resource/api', {
      headers: { accept: 'text/html' },
    })
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toContain('application/json')
  })
})

describe('refusals on an MCP route', () => {
  it('a request without a token: 401 with resource_metadata and scope, a JSON-RPC error echoing the id, nothing forwarded', async () => {
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc({ jsonrpc: '2.0', id: 'req-7', method: 'tools/list' }, { 'x-test-id': id }),
    )
    expect(response.status).toBe(401)
    const challenge = response.headers.get('www-authenticate') ?? ''
    expect(challenge).toMatch(/^Bearer /)
    expect(challenge).toContain(`resource_metadata="${METADATA}"`)
    expect(challenge).toContain('scope="read"')
    const body = await jsonRpcError(response)
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 'req-7', error: { code: -32001 } })
    expect(body.error.data.request_id).toBe(response.headers.get('x-request-id'))
    expect(body.error.data.error).toBe('invalid_token')
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('GET (the SSE stream) without a token is 401 with the same challenge and a null id', async () => {
    const response = await gatewayFetch('/mcp', { headers: { accept: 'text/event-stream' } })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain(`resource_metadata="${METADATA}"`)
    expect((await jsonRpcError(response)).id).toBeNull()
  })
})

describe('RFC 8707 audience binding', () => {
  it('forwards a token issued for the resource: the body unchanged, identity and assertion, never the Authorization header', async () => {
    const { access_token } = await mcpTokens()
    const id = testId()
    const body = JSON.stringify(toolCall(1, 'echo', { text: 'hi' }))
    const response = await gatewayFetch(
      '/mcp',
      rpc(body, { ...bearer(access_token), 'x-test-id': id, 'mcp-session-id': 's-1' }),
    )
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.body).toBe(body)
    expect(received?.headers.authorization).toBeUndefined()
    expect(received?.headers['x-auth-assertion']).toBeTruthy()
    expect(received?.headers['x-auth-user-id']).toBeTruthy()
    expect(received?.headers['mcp-session-id']).toBe('s-1')
  })

  it("refuses a token for the gateway's own audience (a password-grant token) with 401", async () => {
    const user = await createUser(`mcp-pw-${testId()}`)
    const tokens = await login(user.username)
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc(toolCall(2, 'echo'), { ...bearer(tokens.access_token), 'x-test-id': id }),
    )
    expect(response.status).toBe(401)
    expect((await jsonRpcError(response)).id).toBe(2)
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('refuses an MCP token everywhere else: a proxied route, userinfo, the admin API', async () => {
    const { access_token } = await mcpTokens(['admin'], { scopes: ['openid', 'read'] })
    // Verified (and cached) for the MCP resource first: the cache must not carry it elsewhere.
    expect((await gatewayFetch('/mcp', rpc(toolCall(1, 'echo'), bearer(access_token)))).status).toBe(200)
    expect((await gatewayFetch('/api/x', { headers: bearer(access_token) })).status).toBe(401)
    expect((await gatewayFetch('/auth/userinfo', { headers: bearer(access_token) })).status).toBe(401)
    expect((await gatewayFetch('/admin/users', { headers: bearer(access_token) })).status).toBe(401)
  })

  it("refuses another MCP route's token (two resources configured)", async () => {
    const routes = [
      { path: '/mcp', upstream: UPSTREAM, mcp: true, credentials: ['jwt'] },
      { path: '/tools', upstream: UPSTREAM, mcp: true, credentials: ['jwt'] },
    ]
    const { access_token } = await mcpTokens(['user'], { resource: RESOURCE })
    const init = rpc(toolCall(3, 'echo'), bearer(access_token))
    expect((await fetchWithEnv({ ROUTES: routes }, '/mcp', init)).status).toBe(200)
    const other = await fetchWithEnv(
      { ROUTES: routes },
      '/tools',
      rpc(toolCall(3, 'echo'), bearer(access_token)),
    )
    expect(other.status).toBe(401)
  })

  it('keeps the resource through a refresh, and refuses a refresh naming another resource', async () => {
    const { refresh_token, clientId } = await mcpTokens()
    const other = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token,
      client_id: clientId,
      resource: `${GATEWAY}/elsewhere`,
    })
    expect(other.status).toBe(400)
    expect(await other.json()).toMatchObject({ error: 'invalid_target' })
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token,
      client_id: clientId,
      resource: `${RESOURCE}/`,
    })
    expect(refreshed.status).toBe(200)
    const { access_token } = (await refreshed.json()) as { access_token: string }
    expect((await gatewayFetch('/mcp', rpc(toolCall(4, 'echo'), bearer(access_token)))).status).toBe(200)
  })

  it('refuses a code exchange naming another resource than the code was issued for', async () => {
    const clientId = `mcp-exchange-${testId().slice(0, 8)}`
    await createCodeClient(clientId)
    const user = await createUser(`mcp-ex-${testId()}`)
    const issued = await issueCode(clientId, user.id, { scopes: ['read'], resource: RESOURCE })
    const response = await exchangeCode(clientId, issued, { extra: { resource: `${GATEWAY}/api` } })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_target' })
  })
})

describe('resource at the authorization endpoint', () => {
  async function validate(extra: Record<string, string | string[]>, clientId: string) {
    const params = new URLSearchParams({
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      scope: 'read',
    })
    for (const [name, value] of Object.entries(extra))
      for (const one of [value].flat()) params.append(name, one)
    const resources = new Map([
      [RESOURCE, {}],
      [`${GATEWAY}/tools`, {}],
    ])
    return validateAuthorizationRequest(env.DB, params, undefined, resources)
  }

  it('takes a configured resource, with or without a trailing slash', async () => {
    const clientId = `mcp-az-${testId().slice(0, 8)}`
    await createCodeClient(clientId)
    for (const resource of [RESOURCE, `${RESOURCE}/`]) {
      const result = await validate({ resource }, clientId)
      expect(result).toMatchObject({ ok: true, request: { resource: RESOURCE } })
    }
  })

  it('refuses an unknown resource, two resources, a resource with a fragment: invalid_target to the client', async () => {
    const clientId = `mcp-az-${testId().slice(0, 8)}`
    await createCodeClient(clientId)
    for (const resource of [`${GATEWAY}/api`, [RESOURCE, `${GATEWAY}/tools`], `${RESOURCE}#x`, 'mcp']) {
      expect(await validate({ resource }, clientId)).toMatchObject({
        ok: false,
        show: 'redirect',
        error: 'invalid_target',
      })
    }
  })

  it("gives an operator's client without resource the gateway's own audience (no MCP token by accident)", async () => {
    const clientId = `mcp-az-${testId().slice(0, 8)}`
    await createCodeClient(clientId)
    const result = await validate({}, clientId)
    expect(result.ok).toBe(true)
    expect(result.ok && result.request.resource).toBeUndefined()
  })
})

describe('per-tool rules (mcp_rules)', () => {
  it('refuses delete_order without scope write: 403 insufficient_scope naming it, a JSON-RPC error, nothing forwarded', async () => {
    const { access_token } = await mcpTokens(['user'], { scopes: ['read'] })
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc(toolCall(9, 'delete_order', { id: 'o-1' }), { ...bearer(access_token), 'x-test-id': id }),
    )
    expect(response.status).toBe(403)
    const challenge = response.headers.get('www-authenticate') ?? ''
    expect(challenge).toContain('error="insufficient_scope"')
    expect(challenge).toContain('scope="write"')
    expect(challenge).toContain(`resource_metadata="${METADATA}"`)
    expect(await jsonRpcError(response)).toMatchObject({
      id: 9,
      error: { code: -32003, data: { error: 'insufficient_scope' } },
    })
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('lets the same token list tools and call the others, and an editor delete', async () => {
    const reader = await mcpTokens(['user'], { scopes: ['read'] })
    expect(
      (
        await gatewayFetch(
          '/mcp',
          rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, bearer(reader.access_token)),
        )
      ).status,
    ).toBe(200)
    expect(
      (await gatewayFetch('/mcp', rpc(toolCall(2, 'list_orders'), bearer(reader.access_token)))).status,
    ).toBe(200)
    const editor = await mcpTokens(['editor'], { scopes: ['read', 'write'] })
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc(toolCall(3, 'delete_order', { id: 'o-1' }), { ...bearer(editor.access_token), 'x-test-id': id }),
    )
    expect(response.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
  })

  it('cannot be dodged by a header that names another tool: the body decides and the mismatch is 400', async () => {
    const { access_token } = await mcpTokens(['user'], { scopes: ['read'] })
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc(toolCall(5, 'delete_order', { id: 'o-1' }), {
        ...bearer(access_token),
        'x-test-id': id,
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
      }),
    )
    expect(response.status).toBe(400)
    expect(await jsonRpcError(response)).toMatchObject({
      id: 5,
      error: { data: { error: 'header_mismatch' } },
    })
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('refuses a method header that contradicts the body, either way round', async () => {
    const { access_token } = await mcpTokens()
    const cases: [unknown, Record<string, string>][] = [
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-method': 'tools/call' }],
      [toolCall(1, 'echo'), { 'mcp-method': 'tools/list' }],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-name': 'echo' }],
    ]
    for (const [message, headers] of cases) {
      const response = await gatewayFetch('/mcp', rpc(message, { ...bearer(access_token), ...headers }))
      expect(response.status).toBe(400)
    }
    const agreeing = await gatewayFetch(
      '/mcp',
      rpc(toolCall(1, 'echo'), { ...bearer(access_token), 'mcp-method': 'tools/call', 'mcp-name': 'echo' }),
    )
    expect(agreeing.status).toBe(200)
  })
})

describe('explain on an MCP route', () => {
  it('reads the JSON-RPC message and reports the tool rule that decides, with the answer the proxy gives', async () => {
    const admin = await createUser(`mcp-admin-${testId()}`, ['admin'])
    const adminToken = (await login(admin.username)).access_token
    const { access_token } = await mcpTokens(['user'], { scopes: ['read'] })
    const explain = async (message: unknown) => {
      const response = await gatewayFetch('/admin/explain', {
        method: 'POST',
        headers: { ...bearer(adminToken), 'content-type': 'application/json' },
        body: JSON.stringify({
          method: 'POST',
          path: '/mcp',
          headers: { ...bearer(access_token), 'content-type': 'application/json' },
          body: JSON.stringify(message),
        }),
      })
      expect(response.status).toBe(200)
      return (await response.json()) as { decision: { allow: boolean; status: number }; mcp: unknown }
    }
    expect(await explain(toolCall(1, 'delete_order', { id: 'o-1' }))).toMatchObject({
      decision: { allow: false, status: 403 },
      mcp: { method: 'tools/call', name: 'delete_order', rule: { scopes: ['write'] } },
    })
    expect(await explain(toolCall(2, 'echo'))).toMatchObject({
      decision: { allow: true, status: 200 },
      mcp: { method: 'tools/call', name: 'echo', rule: null },
    })
  })
})

describe('bodies the gateway will not judge are refused, never forwarded', () => {
  it.each([
    ['a compressed body', { 'content-encoding': 'gzip' }, JSON.stringify(toolCall(1, 'echo'))],
    ['a non-JSON content type', { 'content-type': 'text/plain' }, JSON.stringify(toolCall(1, 'echo'))],
    ['a JSON-RPC batch', {}, JSON.stringify([toolCall(1, 'echo'), toolCall(2, 'delete_order')])],
    [
      'duplicate keys (echo first, delete_order last)',
      {},
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_order"}}',
    ],
    ['invalid JSON', {}, '{"jsonrpc":"2.0",'],
    ['not JSON-RPC 2.0', {}, '{"id":1,"method":"tools/list"}'],
  ])('%s: 400', async (_name, headers, body) => {
    const { access_token } = await mcpTokens(['editor'])
    const id = testId()
    const response = await gatewayFetch(
      '/mcp',
      rpc(body, { ...bearer(access_token), 'x-test-id': id, ...headers }),
    )
    expect(response.status).toBe(400)
    expect((await jsonRpcError(response)).error.data.error).toBe('unsupported_body')
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('an oversize body: 413', async () => {
    const { access_token } = await mcpTokens()
    const settings = { ...(env.SETTINGS as object), mcp_max_body_bytes: 1024 }
    const response = await fetchWithEnv(
      { SETTINGS: settings },
      '/mcp',
      rpc(toolCall(1, 'echo', { text: 'x'.repeat(2000) }), bearer(access_token)),
    )
    expect(response.status).toBe(413)
  })
})

describe('a server-sent event stream (GET) lives no longer than its token', () => {
  async function openStream(accessToken: string) {
    const settings = { ...(env.SETTINGS as object), websocket_recheck_seconds: 1 }
    const response = await fetchWithEnv({ SETTINGS: settings }, '/mcp?__sse_ms=20000', {
      headers: { ...bearer(accessToken), accept: 'text/event-stream' },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    expect((await reader.read()).done).toBe(false)
    return reader
  }

  /** Reads until the stream ends; false if it still runs after `ms`. */
  async function endsWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const next = await Promise.race([
        reader.read(),
        scheduler.wait(deadline - Date.now()).then(() => undefined),
      ])
      if (next?.done) return true
    }
    return false
  }

  it('keeps streaming across re-checks while the token is good, and ends once it is revoked', async () => {
    const { access_token } = await mcpTokens()
    const reader = await openStream(access_token)
    // Three re-check intervals with a valid token: the events keep coming.
    expect(await endsWithin(reader, 3_000)).toBe(false)
    const claims = decodeJwt(access_token)
    await revokeAccessToken(env, {
      jti: String(claims.jti),
      subject: String(claims.sub),
      expiresAt: Number(claims.exp),
    })
    // The upstream would stream for 20 s more; the next re-check (1 s) ends it. Margin for a loaded machine.
    expect(await endsWithin(reader, 12_000)).toBe(true)
    await reader.cancel()
  })
})

describe('configuration of MCP routes', () => {
  function problemsOf(routes: Record<string, unknown>[]): string[] {
    const result = parseConfig({ ...env, ROUTES: routes.map((route) => ({ upstream: UPSTREAM, ...route })) })
    return result.ok ? [] : result.problems
  }

  it.each([
    [
      'forward_authorization (token passthrough)',
      { path: '/mcp', mcp: true, credentials: ['jwt'], forward_authorization: true },
      'ROUTES[0].forward_authorization: an MCP route never forwards',
    ],
    [
      'a credential other than our tokens',
      { path: '/mcp', mcp: true, credentials: ['jwt', 'api_key'] },
      'ROUTES[0].credentials: an MCP route accepts only',
    ],
    [
      'a resource on a plain route',
      { path: '/api', resource: 'https://x.example/api' },
      'ROUTES[0].resource: only an MCP route',
    ],
    [
      'mcp_rules on a plain route',
      { path: '/api', mcp_rules: [{ method: 'tools/call' }] },
      'ROUTES[0].mcp_rules: only an MCP route',
    ],
    [
      'a resource that is no URL',
      { path: '/mcp', mcp: true, credentials: ['jwt'], resource: 'mcp' },
      'ROUTES[0].resource: must be',
    ],
    [
      'a templated path',
      { path: '/mcp/{tenant}', mcp: true, credentials: ['jwt'] },
      'ROUTES[0].path: an MCP route',
    ],
  ])('refuses %s', (_name, route, problem) => {
    expect(problemsOf([route]).join('\n')).toContain(problem)
  })

  it("refuses two MCP routes with one resource (they would accept each other's tokens)", () => {
    const shared = 'https://mcp.example/mcp'
    const problems = problemsOf([
      { path: '/mcp', mcp: true, credentials: ['jwt'], resource: shared },
      { path: '/other', mcp: true, credentials: ['jwt'], resource: `${shared}/` },
    ])
    expect(problems.join('\n')).toContain(`ROUTES[1].resource: "${shared}" is ROUTES[0]'s too`)
  })

  it('a misconfigured MCP route fails closed: 503, never forwarded', async () => {
    const id = testId()
    const routes = [
      { path: '/mcp', upstream: UPSTREAM, mcp: true, credentials: ['jwt'], forward_authorization: true },
    ]
    const response = await fetchWithEnv(
      { ROUTES: routes },
      '/mcp',
      rpc(toolCall(1, 'echo'), { 'x-test-id': id }),
    )
    expect(response.status).toBe(503)
    expect(await upstreamReceived(id)).toHaveLength(0)
  })
})
