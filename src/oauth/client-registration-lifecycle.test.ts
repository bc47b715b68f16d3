/**
 * A self-registered client (RFC 7591) after its registration: the consent page a user sees for it,
 * the authorization code + PKCE flow it completes, its first use recorded, its expiry when never
 * used, and the operator's view of it in the admin API.
 */
import { createScheduledController, env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, callApi, createUser } from '../../test/support/accounts'
import { adminFetch, adminJson, adminToken } from '../../test/support/admin'
import {
  authorizationRequest,
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
  pkcePair,
  REDIRECT,
} from '../../test/support/authorization-code'
import { GATEWAY, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { type BrowserLogin, browserLogin, sameOrigin } from '../../test/support/sessions'
import { deleteExpiredRows } from '../cleanup'
import { nowSeconds } from '../db/json'
import worker from '../index'

async function registerClient(body: Record<string, unknown>): Promise<string> {
  const response = await gatewayFetch('/auth/clients', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { client_id: string }).client_id
}

/** GET /auth/authorize for `clientId` as a signed-in browser, and the PKCE verifier of the request. */
async function authorize(clientId: string, login: BrowserLogin) {
  const { query, verifier } = await authorizationRequest(clientId)
  const response = await gatewayFetch(`/auth/authorize?${query}`, {
    redirect: 'manual',
    headers: { accept: 'text/html', cookie: login.cookie },
  })
  return { response, verifier }
}

/** The consent page of `clientId` for a signed-in user, and the PKCE verifier of its request. */
async function consentPage(clientId: string, login: BrowserLogin) {
  const { response, verifier } = await authorize(clientId, login)
  expect(response.status).toBe(200)
  return { html: await response.text(), verifier }
}

function hidden(html: string, name: string): string {
  return (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '').replace(/&amp;/g, '&')
}

async function lastUsedAt(clientId: string): Promise<number | null | undefined> {
  const row = await env.DB.prepare('SELECT last_used_at FROM oauth_clients WHERE client_id = ?1')
    .bind(clientId)
    .first<{ last_used_at: number | null }>()
  return row === null ? undefined : row.last_used_at
}

describe('a self-registered client at the consent page and through the code flow', () => {
  it('completes authorization code + PKCE with a delegated token for the MCP server, and its first code records last use', async () => {
    const clientId = await registerClient({ redirect_uris: [REDIRECT], client_name: 'MCP Desktop' })
    await createUser('dcr-flow-user')
    const login = await browserLogin('dcr-flow-user')
    const page = await consentPage(clientId, login)
    expect(await lastUsedAt(clientId)).toBeNull()

    const allowed = await gatewayFetch('/auth/authorize', {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        ...sameOrigin(login),
      },
      body: new URLSearchParams({
        csrf: hidden(page.html, 'csrf'),
        authorization_query: hidden(page.html, 'authorization_query'),
        decision: 'allow',
      }),
    })
    expect(allowed.status).toBe(303)
    const answer = new URL(allowed.headers.get('location') ?? '')
    expect(`${answer.origin}${answer.pathname}`).toBe(REDIRECT)
    expect(answer.searchParams.get('iss')).toBe(GATEWAY)
    expect(await lastUsedAt(clientId)).toBeGreaterThan(nowSeconds() - 60)

    const code = answer.searchParams.get('code') ?? ''
    // PKCE as for every client: a wrong verifier gets nothing (and spends the code).
    const wrong = await exchangeCode(clientId, { code, verifier: (await pkcePair()).verifier })
    expect(wrong.status).toBe(400)
    // The grant is remembered: the next authorization comes straight back with a code.
    const again = await authorize(clientId, login)
    expect(again.response.status).toBe(302)
    const secondCode = new URL(again.response.headers.get('location') ?? '').searchParams.get('code') ?? ''
    const response = await exchangeCode(clientId, { code: secondCode, verifier: again.verifier })
    expect(response.status).toBe(200)
    const tokens = (await response.json()) as CodeTokens
    expect(tokens.scope).toBe('openid read')
    // Without `resource`, a self-registered client's token is for the one MCP server (RFC 8707,
    // src/mcp/resource.ts), delegated, with no role: /mcp takes it, the gateway's own API does not.
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      aud: `${GATEWAY}/mcp`,
      client_id: clientId,
      roles: [],
    })
    const id = testId()
    const mcp = await gatewayFetch('/mcp', {
      method: 'POST',
      headers: {
        ...bearer(tokens.access_token),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-test-id': id,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(mcp.status).toBe(200)
    expect(await upstreamReceived(id)).toHaveLength(1)
    expect(await callApi(tokens.access_token)).toEqual({ status: 401, forwarded: 0 })
  })

  it('names the app by its redirect host, not by the name it chose, and says nobody vouched for it', async () => {
    const clientId = await registerClient({ redirect_uris: [REDIRECT], client_name: 'Admin Console' })
    await createUser('dcr-consent-user')
    const { html } = await consentPage(clientId, await browserLogin('dcr-consent-user'))
    expect(html).toContain('Allow the app at https://app.example to use your account?')
    expect(html).not.toContain('Allow Admin Console')
    expect(html).toContain('This app registered itself')
    expect(html).toContain('It calls itself &quot;Admin Console&quot;, a name anyone can choose.')
  })

  it("shows an operator's client under its name, without the self-registration warning", async () => {
    await createCodeClient('dcr-operator-app')
    await createUser('dcr-operator-user')
    const { html } = await consentPage('dcr-operator-app', await browserLogin('dcr-operator-user'))
    expect(html).toContain('Allow App dcr-operator-app to use your account?')
    expect(html).not.toContain('registered itself')
  })
})

describe('the hourly cleanup of registrations nobody used', () => {
  async function ageClient(clientId: string, seconds: number): Promise<void> {
    await env.DB.prepare('UPDATE oauth_clients SET created_at = created_at - ?2 WHERE client_id = ?1')
      .bind(clientId, seconds)
      .run()
  }

  it('deletes a self-registered client with no code after 24 h; keeps used, recent and operator clients', async () => {
    const unused = await registerClient({ redirect_uris: [REDIRECT] })
    const used = await registerClient({ redirect_uris: [REDIRECT] })
    const recent = await registerClient({ redirect_uris: [REDIRECT] })
    await createCodeClient('dcr-cleanup-operator')
    const user = await createUser('dcr-cleanup-user')
    await issueCode(used, user.id)
    for (const clientId of [unused, used, 'dcr-cleanup-operator']) await ageClient(clientId, 25 * 3600)

    // Without the setting (no valid config) nothing is deleted.
    expect((await deleteExpiredRows(env.DB)).unusedDynamicClients).toBe(0)
    expect(await lastUsedAt(unused)).toBeNull()

    // The cron handler passes SETTINGS.dynamic_clients.unused_expiry_hours (24 by default).
    await worker.scheduled(createScheduledController(), env)
    expect(await lastUsedAt(unused)).toBeUndefined()
    expect(await lastUsedAt(used)).toBeGreaterThan(0)
    expect(await lastUsedAt(recent)).toBeNull()
    expect(await lastUsedAt('dcr-cleanup-operator')).toBeNull()
  })
})

describe('the admin API and self-registered clients', () => {
  it('lists them with registration "dynamic" and last_used_at, and deletes them like any client', async () => {
    const admin = await adminToken('dcr-admin')
    const clientId = await registerClient({ redirect_uris: [REDIRECT], client_name: 'Listed' })
    await createCodeClient('dcr-listed-operator')
    const list = await adminJson<{ items: Record<string, unknown>[] }>(
      admin.token,
      'GET',
      '/admin/clients?limit=100',
    )
    expect(list.items.find((item) => item.client_id === clientId)).toMatchObject({
      name: 'Listed',
      confidential: false,
      registration: 'dynamic',
      last_used_at: null,
      first_party: false,
      skip_consent: false,
    })
    expect(list.items.find((item) => item.client_id === 'dcr-listed-operator')).toMatchObject({
      registration: 'operator',
    })
    expect((await adminFetch(admin.token, 'DELETE', `/admin/clients/${clientId}`)).status).toBe(204)
    expect(await lastUsedAt(clientId)).toBeUndefined()
  })
})
