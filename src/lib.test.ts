import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login } from '../test/support/accounts'
import {
  type AppBindings,
  authenticate,
  currentPrincipal,
  gatewayContext,
  gatewayErrorHandler,
  requireRole,
  requireScopes,
} from './lib'

// The "Building on the gateway" example of docs/authorization.md, verbatim in spirit: a Worker of your own that
// uses the gateway's credentials, roles and scopes.
function reportsApp(ran: string[]) {
  const app = new Hono<AppBindings>()
  app.use('*', gatewayContext())
  app.get('/reports', authenticate(), requireScopes('read'), (c) => {
    ran.push('list')
    return c.json({ owner: currentPrincipal(c).username })
  })
  app.delete('/reports/:id', authenticate(), requireRole('editor'), (c) => {
    ran.push('delete')
    return c.body(null, 204)
  })
  app.onError(gatewayErrorHandler)
  return app
}

async function call(
  app: Hono<AppBindings>,
  method: string,
  path: string,
  headers: Record<string, string> = {},
) {
  const ctx = createExecutionContext()
  const response = await app.fetch(new Request(`http://worker.test${path}`, { method, headers }), env, ctx)
  await waitOnExecutionContext(ctx)
  return response
}

describe('building a Worker on the gateway library', () => {
  it('lets a user with the scope list reports, and refuses the delete to a mere user (handler not run)', async () => {
    await createUser('lib-user', ['user'])
    const { access_token } = await login('lib-user')
    const ran: string[] = []
    const app = reportsApp(ran)
    const listed = await call(app, 'GET', '/reports', bearer(access_token))
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual({ owner: 'lib-user' })
    const deleted = await call(app, 'DELETE', '/reports/1', bearer(access_token))
    expect(deleted.status).toBe(403)
    expect(await deleted.json()).toMatchObject({ error: 'forbidden' })
    expect(ran).toEqual(['list'])
  })

  it('lets an admin delete (admin > editor) and answers 401 with a Bearer challenge without a token', async () => {
    await createUser('lib-admin', ['admin'])
    const { access_token } = await login('lib-admin')
    const ran: string[] = []
    const app = reportsApp(ran)
    expect((await call(app, 'DELETE', '/reports/1', bearer(access_token))).status).toBe(204)
    const anonymous = await call(app, 'GET', '/reports')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer realm=')
    expect(ran).toEqual(['delete'])
  })
})
