import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { bearer, createUser, PASSWORD } from '../../test/support/accounts'
import { auditRows } from '../../test/support/admin'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { browserLogin, sameOrigin } from '../../test/support/sessions'
import type { Env } from '../env'
import { recordGrant } from '../oauth/consent'
import type { Explanation } from '../proxy/explanation'
import { Explanation as DocumentedExplanation } from './explain-doc'

const ROUTE = { upstream: 'UPSTREAM_URL' }
const ROUTES = [
  { ...ROUTE, path: '/shop/public', access: 'public' },
  {
    ...ROUTE,
    path: '/shop/items/{item_id}',
    methods: ['GET', 'DELETE'],
    scopes: ['read'],
    method_rules: { DELETE: { scopes: ['write'] } },
  },
  { ...ROUTE, path: '/shop/items/mine', match: 'exact' },
  { ...ROUTE, path: '/shop/admin/{rest*}', roles: ['admin'] },
  { ...ROUTE, path: '/shop', roles: ['editor'] },
  { ...ROUTE, path: '/vault', delegated: 'deny' },
  { ...ROUTE, path: '/ledger', identity: 'assertion' },
]
const overrides = { ROUTES } as Partial<Env>

function send(path: string, init: RequestInit = {}): Promise<Response> {
  return fetchWithEnv(overrides, path, init)
}

async function tokenFor(username: string, scope: string): Promise<string> {
  const response = await send('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, scope }).toString(),
  })
  if (response.status !== 200) throw new Error(await response.text())
  return ((await response.json()) as { access_token: string }).access_token
}

let adminToken: string
let readerToken: string

beforeAll(async () => {
  await createUser('explain-admin', ['admin'])
  await createUser('explain-reader', ['user'])
  adminToken = await tokenFor('explain-admin', 'read')
  readerToken = await tokenFor('explain-reader', 'read')
})

async function explain(body: unknown, token = adminToken): Promise<Response> {
  return send('/admin/explain', {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** Explains the request, then sends it for real: both answers, and what the upstream received. */
async function both(method: string, path: string, headers: Record<string, string> = {}) {
  const explained = await explain({ method, path, headers: { ...headers, 'x-test-id': 'explain' } })
  expect(explained.status).toBe(200)
  const explanation = (await explained.json()) as Explanation
  const id = testId()
  const real = await send(path, { method, headers: { ...headers, 'x-test-id': id } })
  const text = await real.text()
  const error = real.headers.get('content-type')?.includes('json')
    ? (JSON.parse(text) as { error?: string }).error
    : undefined
  return {
    explanation,
    real: { status: real.status, error, allow: real.headers.get('allow') },
    forwarded: await upstreamReceived(id),
  }
}

describe('POST /admin/explain answers what the gateway does with the same request', () => {
  it.each([
    ['allowed (scope held)', 'GET', '/shop/items/42', 'reader', 200, undefined],
    ['public', 'GET', '/shop/public/x', 'none', 200, undefined],
    ['401 without credentials', 'GET', '/shop/items/42', 'none', 401, 'invalid_token'],
    ['403 scope (DELETE needs write)', 'DELETE', '/shop/items/42', 'reader', 403, 'insufficient_scope'],
    ['403 role (admin below /shop/admin)', 'GET', '/shop/admin/users', 'reader', 403, 'forbidden'],
    ['404 (no route)', 'GET', '/nothing/here', 'reader', 404, 'not_found'],
    ['400 path (an encoded slash)', 'GET', '/shop/items/a%2Fb', 'reader', 400, 'invalid_path'],
    ['405 (POST on the item template)', 'POST', '/shop/items/42', 'reader', 405, 'method_not_allowed'],
  ])('%s', async (_name, method, path, who, status, error) => {
    const headers = who === 'reader' ? bearer(readerToken) : {}
    const { explanation, real, forwarded } = await both(method, path, headers)
    expect(real.status).toBe(status)
    expect(real.error).toBe(error)
    expect(explanation.decision.status).toBe(status)
    expect(explanation.decision.allow).toBe(status === 200)
    expect(explanation.decision.error).toBe(error)
    expect(forwarded).toHaveLength(status === 200 ? 1 : 0)
    // Explain itself forwards nothing (its requests carry x-test-id "explain").
    expect(await upstreamReceived('explain')).toEqual([])
  })

  it('says why the route beat the others, names the rule and the principal', async () => {
    const { explanation } = await both('DELETE', '/shop/items/42', bearer(readerToken))
    expect(explanation.canonical_path).toBe('/shop/items/42')
    expect(explanation.route?.path).toBe('/shop/items/{item_id}')
    expect(explanation.route?.match).toBe('exact')
    expect(explanation.route?.beat).toEqual([
      {
        index: 4,
        path: '/shop',
        why: 'at segment 2 it has a literal segment, the other nothing (below its prefix)',
      },
    ])
    expect(explanation.rule).toMatchObject({ scopes: ['write'], method_rule: true })
    expect(explanation.principal).toMatchObject({
      username: 'explain-reader',
      auth_method: 'jwt',
      scopes: ['read'],
    })
    expect(explanation.reason).toBe('missing scope: needs all of write')
    expect(JSON.stringify(explanation)).not.toContain(readerToken)
  })

  it('names the literal that beat a parameter, and the rejected path with its reason', async () => {
    const mine = (await (await explain({ method: 'GET', path: '/shop/items/mine' })).json()) as Explanation
    expect(mine.route?.path).toBe('/shop/items/mine')
    expect(mine.route?.beat[0]).toEqual({
      index: 1,
      path: '/shop/items/{item_id}',
      why: 'at segment 3 it has a literal segment, the other a parameter',
    })
    const rejected = (await (await explain({ method: 'GET', path: '/shop//x' })).json()) as Explanation
    expect(rejected.rejected).toEqual({
      error: 'invalid_path',
      reason: 'The request path was rejected: empty path segments ("//") are not allowed.',
    })
    expect(rejected.route).toBeNull()
  })

  it("flags the gateway's own /admin/users, and explains /ADMIN/users as the 404 it gets", async () => {
    const own = (await (await explain({ method: 'GET', path: '/admin/users' })).json()) as Explanation & {
      gateway_endpoint?: boolean
    }
    expect(own.gateway_endpoint).toBe(true)
    const upper = (await (await explain({ method: 'GET', path: '/ADMIN/users' })).json()) as Explanation & {
      gateway_endpoint?: boolean
    }
    expect(upper.gateway_endpoint).toBeUndefined()
    expect(upper.route).toBeNull()
    expect(upper.decision).toEqual({ allow: false, status: 404, error: 'not_found' })
    expect(upper.reason).toContain("/admin is the gateway's own")
  })
})

describe('explain on a delegated = "deny" route', () => {
  let appToken: string

  beforeAll(async () => {
    const user = await createUser('explain-app-user', ['user'])
    await createCodeClient('explain-photo-app', { allowedRoles: ['user'] })
    await recordGrant(env.DB, {
      userId: user.id,
      clientId: 'explain-photo-app',
      scopes: ['read'],
      roles: ['user'],
    })
    const issued = await issueCode('explain-photo-app', user.id, { scopes: ['read'] })
    appToken = ((await (await exchangeCode('explain-photo-app', issued)).json()) as CodeTokens).access_token
  })

  it('gives the delegated refusal the proxy answers, naming the app, with the field in the rule', async () => {
    const { explanation, real, forwarded } = await both('GET', '/vault/1', bearer(appToken))
    expect(real).toMatchObject({ status: 403, error: 'insufficient_scope' })
    expect(forwarded).toEqual([])
    expect(explanation.decision).toEqual({ allow: false, status: 403, error: 'insufficient_scope' })
    expect(explanation.rule).toMatchObject({ access: 'authenticated', delegated: 'deny' })
    expect(explanation.principal).toMatchObject({ client_id: 'explain-photo-app', delegated: true })
    expect(explanation.reason).toBe(
      'the route is delegated = "deny" and the token was issued to the app "explain-photo-app": only the user\'s own credentials may call it',
    )
    expect(DocumentedExplanation.safeParse(explanation).error).toBeUndefined()
  })

  it('allows a first-party token there, and shows delegated = "allow" on a route that does not set it', async () => {
    const vault = (await (
      await explain({ method: 'GET', path: '/vault/1', headers: bearer(readerToken) })
    ).json()) as Explanation
    expect(vault.decision.allow).toBe(true)
    expect(vault.rule?.delegated).toBe('deny')
    expect(vault.principal?.delegated).toBeUndefined()
    const shop = (await (await explain({ method: 'GET', path: '/shop/items/1' })).json()) as Explanation
    expect(shop.rule?.delegated).toBe('allow')
    expect(DocumentedExplanation.safeParse(shop).error).toBeUndefined()
  })

  it('names identity = "assertion" on the route that sets it, and nothing on the others', async () => {
    const ledger = (await (await explain({ method: 'GET', path: '/ledger/1' })).json()) as Explanation
    expect(ledger.route?.identity).toBe('assertion')
    expect(DocumentedExplanation.safeParse(ledger).error).toBeUndefined()
    const shop = (await (await explain({ method: 'GET', path: '/shop/items/1' })).json()) as Explanation
    expect(shop.route?.identity).toBeUndefined()
  })

  it('writes no audit event for the refusal it explains', async () => {
    const path = `/vault/explained-${testId()}`
    const answer = (await (
      await explain({ method: 'GET', path, headers: bearer(appToken) })
    ).json()) as Explanation
    expect(answer.decision.error).toBe('insufficient_scope')
    expect((await auditRows()).filter((event) => event.details.path === path)).toEqual([])
  })
})

describe('explain changes no state and is for admins only', () => {
  it("does not record an API key's last use", async () => {
    const user = await createUser('explain-key-owner', ['editor'])
    const created = await send('/auth/api-keys', {
      method: 'POST',
      headers: { ...bearer(await tokenFor('explain-key-owner', 'read')), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'explain' }),
    })
    const { id, key } = (await created.json()) as { id: string; key: string }
    const { explanation } = {
      explanation: (await (
        await explain({ method: 'GET', path: '/shop/x', headers: { 'x-api-key': key } })
      ).json()) as Explanation,
    }
    expect(explanation.principal?.id).toBe(user.id)
    expect(explanation.decision.allow).toBe(true)
    const row = await env.DB.prepare('SELECT last_used_at FROM api_keys WHERE id = ?')
      .bind(id)
      .first<{ last_used_at: number | null }>()
    expect(row?.last_used_at).toBeNull()
  })

  it('refuses a caller without the admin role (403) and without a token (401)', async () => {
    expect((await explain({ method: 'GET', path: '/shop' }, readerToken)).status).toBe(403)
    const anonymous = await send('/admin/explain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"method":"GET","path":"/"}',
    })
    expect(anonymous.status).toBe(401)
  })
})

describe('explain belongs to the admin API', () => {
  it("accepts an admin's browser session (same-origin), like every other admin operation", async () => {
    await createUser('explain-session-admin', ['admin'])
    const session = await browserLogin('explain-session-admin', { through: send })
    const response = await send('/admin/explain', {
      method: 'POST',
      headers: { ...sameOrigin(session), 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'GET', path: '/shop/public' }),
    })
    expect(response.status).toBe(200)
    expect(((await response.json()) as Explanation).decision.allow).toBe(true)
  })

  it("shows the rule's policy fields, not the compiled route's matching internals", async () => {
    const explanation = (await (await explain({ method: 'GET', path: '/shop' })).json()) as Explanation
    expect(Object.keys(explanation.rule ?? {}).sort()).toEqual([
      'access',
      'credentials',
      'delegated',
      'method_rule',
      'roles',
      'scopes',
    ])
  })
})

describe('log_level = "debug" puts the explanation in the log line of a refused request', () => {
  it('logs route, rule, principal and reason (never the token) for a 403, and nothing at info', async () => {
    const settings = { ...(env.SETTINGS as object), log_level: 'debug' }
    const lines: string[] = []
    const spy = vi.spyOn(console, 'debug').mockImplementation((line: string) => {
      lines.push(line)
    })
    try {
      const response = await fetchWithEnv(
        { ...overrides, SETTINGS: settings } as Partial<Env>,
        '/shop/admin/x',
        {
          headers: bearer(readerToken),
        },
      )
      expect(response.status).toBe(403)
      await send('/shop/admin/x', { headers: bearer(readerToken) })
    } finally {
      spy.mockRestore()
    }
    expect(lines).toHaveLength(1)
    const logged = JSON.parse(lines[0] as string)
    expect(logged).toMatchObject({
      level: 'debug',
      event: 'request_denied',
      route: { path: '/shop/admin/{rest*}' },
      principal: { username: 'explain-reader' },
      reason: 'missing role: needs one of admin',
    })
    expect(lines[0]).not.toContain(readerToken)
  })
})
