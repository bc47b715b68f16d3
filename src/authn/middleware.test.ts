import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { Hono, type MiddlewareHandler } from 'hono'
import { describe, expect, it } from 'vitest'
import { createUser, login, PASSWORD } from '../../test/support/accounts'
import { createApiKey } from '../../test/support/api-keys'
import { attackerKeyPair, signCompact, validClaims, validHeader } from '../../test/support/forge'
import type { Principal } from '../authz/principal'
import { loadConfig } from '../config/load'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { renderError } from '../errors/render'
// The package entry: importing it registers the credential loaders the middleware runs.
import { authenticate, requireRole, requireScopes } from '.'

const GATEWAY = 'http://gateway.test'

interface Harness {
  fetch(path: string, headers?: Record<string, string>): Promise<Response>
  /** The principal the protected handler saw, or undefined when it never ran. */
  ran(): Principal | undefined
}

/** A small app that uses the middleware the way a Hono user would, with the gateway's context. */
function protectedApp(...middleware: MiddlewareHandler<AppBindings>[]): Harness {
  let seen: Principal | undefined
  const app = new Hono<AppBindings>()
  app.use('*', async function loadRequestContext(c, next) {
    const result = loadConfig(c.env)
    if (!result.ok) throw new Error(result.problems.join('; '))
    c.set('ctx', { requestId: 'req-test', config: result.config })
    await next()
  })
  if (middleware.length > 0) app.use('/protected', ...middleware)
  app.get('/protected', (c) => {
    seen = c.var.ctx.principal
    return c.json({ ok: true })
  })
  app.onError((error, c) => renderError(error, 'req-test', c.var.ctx.config.settings.realm))
  return {
    async fetch(path, headers = {}) {
      const ctx = createExecutionContext()
      const response = await app.fetch(new Request(`${GATEWAY}${path}`, { headers }), env, ctx)
      await waitOnExecutionContext(ctx)
      return response
    },
    ran: () => seen,
  }
}

async function tokenFor(username: string, roles: string[], scope?: string): Promise<string> {
  await createUser(username, roles)
  const tokens = await login(username, PASSWORD, scope ? { scope } : {})
  return tokens.access_token
}

async function apiKeyFor(accessToken: string, scopes?: string[]): Promise<string> {
  return (await createApiKey(accessToken, { name: 'mw', scopes })).key
}

function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${username}:${password}`)}` }
}

describe('authenticate()', () => {
  it('a request without credentials is 401 with a Bearer challenge and the handler never runs', async () => {
    const app = protectedApp(authenticate())
    const response = await app.fetch('/protected')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="edge-auth-gateway"')
    expect(await response.json()).toMatchObject({ error: 'invalid_token', request_id: 'req-test' })
    expect(app.ran()).toBeUndefined()
  })

  it('a token signed by an attacker key is 401 invalid_token and the handler never runs', async () => {
    const app = protectedApp(authenticate())
    const { privateKey } = await attackerKeyPair()
    const forged = await signCompact(validClaims({ roles: ['admin'] }), validHeader(), privateKey)
    const response = await app.fetch('/protected', { authorization: `Bearer ${forged}` })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="invalid_token"',
    )
    expect(app.ran()).toBeUndefined()
  })

  it('a valid access token reaches the handler with its principal', async () => {
    const app = protectedApp(authenticate())
    const token = await tokenFor('mw-jwt', ['editor'])
    const response = await app.fetch('/protected', { authorization: `Bearer ${token}` })
    expect(response.status).toBe(200)
    expect(app.ran()).toMatchObject({ method: 'jwt', username: 'mw-jwt', roles: ['editor'] })
  })

  it('a valid X-API-Key reaches the handler by default', async () => {
    const app = protectedApp(authenticate())
    const key = await apiKeyFor(await tokenFor('mw-key', ['user']))
    const response = await app.fetch('/protected', { 'x-api-key': key })
    expect(response.status).toBe(200)
    expect(app.ran()).toMatchObject({ method: 'api_key', username: 'mw-key', scopes: ['read'] })
  })

  it('a key with a real id and a guessed secret is 401 and the handler never runs', async () => {
    const app = protectedApp(authenticate())
    const key = await apiKeyFor(await tokenFor('mw-key-wrong', ['user']))
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`
    const response = await app.fetch('/protected', { 'x-api-key': tampered })
    expect(response.status).toBe(401)
    expect(app.ran()).toBeUndefined()
  })

  it('HTTP Basic is not a credential unless the middleware enables it', async () => {
    await tokenFor('mw-basic', ['user'])
    const off = protectedApp(authenticate())
    const refused = await off.fetch('/protected', basic('mw-basic', PASSWORD))
    expect(refused.status).toBe(401)
    expect(off.ran()).toBeUndefined()

    const on = protectedApp(authenticate({ credentials: ['basic'] }))
    const accepted = await on.fetch('/protected', basic('mw-basic', PASSWORD))
    expect(accepted.status).toBe(200)
    expect(on.ran()).toMatchObject({ method: 'basic', username: 'mw-basic' })
  })

  it('a wrong Basic password is 401 with a Basic challenge and the handler never runs', async () => {
    await tokenFor('mw-basic-wrong', ['user'])
    const app = protectedApp(authenticate({ credentials: ['basic'] }))
    const response = await app.fetch('/protected', basic('mw-basic-wrong', 'not the password'))
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="edge-auth-gateway", charset="UTF-8"')
    expect(app.ran()).toBeUndefined()
  })

  it('an API key in the query string is ignored unless apiKeySources enables it', async () => {
    const key = await apiKeyFor(await tokenFor('mw-query', ['user']))
    const off = protectedApp(authenticate())
    expect((await off.fetch(`/protected?api_key=${key}`)).status).toBe(401)
    expect(off.ran()).toBeUndefined()
    const on = protectedApp(authenticate({ apiKeySources: ['query'] }))
    expect((await on.fetch(`/protected?api_key=${key}`)).status).toBe(200)
    expect(on.ran()?.method).toBe('api_key')
  })

  it('credentials: ["api_key"] refuses a valid access token', async () => {
    const app = protectedApp(authenticate({ credentials: ['api_key'] }))
    const token = await tokenFor('mw-keys-only', ['admin'])
    const response = await app.fetch('/protected', { authorization: `Bearer ${token}` })
    expect(response.status).toBe(401)
    expect(app.ran()).toBeUndefined()
  })
})

describe('requireRole()', () => {
  it('lets an admin through requireRole("editor"): roles inherit downward', async () => {
    const app = protectedApp(authenticate(), requireRole('editor'))
    const token = await tokenFor('mw-role-admin', ['admin'])
    expect((await app.fetch('/protected', { authorization: `Bearer ${token}` })).status).toBe(200)
    expect(app.ran()?.roles).toEqual(['admin'])
  })

  it('refuses a user on requireRole("editor") with 403 forbidden; the handler never runs', async () => {
    const app = protectedApp(authenticate(), requireRole('editor'))
    const token = await tokenFor('mw-role-user', ['user'])
    const response = await app.fetch('/protected', { authorization: `Bearer ${token}` })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'forbidden' })
    expect(response.headers.get('www-authenticate')).toBeNull()
    expect(app.ran()).toBeUndefined()
  })

  it('accepts any one of several roles', async () => {
    const app = protectedApp(authenticate(), requireRole('admin', 'user'))
    const token = await tokenFor('mw-role-any', ['user'])
    expect((await app.fetch('/protected', { authorization: `Bearer ${token}` })).status).toBe(200)
  })

  it('without authenticate() in front it fails closed (500) instead of running the handler', async () => {
    const app = protectedApp(requireRole('user'))
    const response = await app.fetch('/protected')
    expect(response.status).toBe(500)
    expect(app.ran()).toBeUndefined()
  })
})

describe('requireScopes()', () => {
  it('refuses a read-only caller on requireScopes("write") with 403 insufficient_scope naming it', async () => {
    const app = protectedApp(authenticate(), requireScopes('write'))
    const token = await tokenFor('mw-scope-user', ['user'])
    const response = await app.fetch('/protected', { authorization: `Bearer ${token}` })
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", error="insufficient_scope", scope="write"',
    )
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope' })
    expect(app.ran()).toBeUndefined()
  })

  it('needs every scope listed, not just one', async () => {
    const app = protectedApp(authenticate(), requireScopes('read', 'write'))
    const narrowed = await tokenFor('mw-scope-narrow', ['editor'], 'read')
    const refused = await app.fetch('/protected', { authorization: `Bearer ${narrowed}` })
    expect(refused.status).toBe(403)
    expect(refused.headers.get('www-authenticate')).toContain('scope="read write"')
    expect(app.ran()).toBeUndefined()
    const full = (await login('mw-scope-narrow')).access_token
    expect((await app.fetch('/protected', { authorization: `Bearer ${full}` })).status).toBe(200)
  })

  it('applies to API keys: a read key of an editor is refused write', async () => {
    const app = protectedApp(authenticate(), requireScopes('write'))
    const key = await apiKeyFor(await tokenFor('mw-scope-key', ['editor']), ['read'])
    const response = await app.fetch('/protected', { 'x-api-key': key })
    expect(response.status).toBe(403)
    expect(app.ran()).toBeUndefined()
  })

  it('runs after requireRole: a caller with the role but not the scope is still refused', async () => {
    const app = protectedApp(authenticate(), requireRole('editor'), requireScopes('write'))
    const token = await tokenFor('mw-role-scope', ['editor'], 'read')
    expect((await app.fetch('/protected', { authorization: `Bearer ${token}` })).status).toBe(403)
    expect(app.ran()).toBeUndefined()
  })
})

describe('the factories check their options once, at creation', () => {
  it('authenticate() throws a plain Error for an unknown credential kind', () => {
    expect(() => authenticate({ credentials: ['password' as never] })).toThrow(/unknown credential kind/)
    expect(() => authenticate({ credentials: ['password' as never] })).not.toThrow(GatewayError)
  })

  it('requireRole() and requireScopes() with nothing to require throw instead of allowing everyone', () => {
    expect(() => requireRole()).toThrow(Error)
    expect(() => requireScopes()).toThrow(Error)
  })

  it('returns named handlers, so stack traces say which one ran', () => {
    expect(authenticate().name).toBe('authenticate')
    expect(requireRole('user').name).toBe('requireRole')
    expect(requireScopes('read').name).toBe('requireScopes')
  })
})
