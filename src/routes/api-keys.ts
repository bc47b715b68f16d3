import { Hono } from 'hono'
import { createApiKey, listOwnApiKeys, revokeApiKey, viewApiKey } from '../api-keys/service'
import { authenticate, currentPrincipal, requireRole } from '../authn/middleware'
import { assertRecentAuthentication } from '../authn/recent-authentication'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { listApiKeys } from '../storage/api-keys'
import { withStorage } from '../storage/errors'
import { readFields } from './form'

export const apiKeyRoutes = new Hono<AppBindings>()

// Self-service: a user manages their own keys with a token (an API key cannot mint API keys).
const self = authenticate({ credentials: ['jwt'] })
// Minting makes a credential that outlives the token, so the token's revocation is checked in D1
// (the truth), not the edge copy: a token ended by logout-all elsewhere cannot mint while KV lags.
const minting = authenticate({ credentials: ['jwt'], revocation: 'strict' })

apiKeyRoutes.post('/auth/api-keys', minting, async function createKey(c) {
  const principal = currentPrincipal(c)
  // A client_credentials token acts as a client, not a user: it has no account to own keys.
  if (principal.clientId !== undefined && principal.clientId === principal.id) {
    throw new GatewayError('forbidden', 'API keys belong to users; a client token cannot create them.')
  }
  const { settings } = c.var.ctx.config
  assertRecentAuthentication(principal, {
    maxAgeSeconds: settings.api_key_max_auth_age_seconds,
    clockSkewSeconds: settings.clock_skew_seconds,
  })
  const fields = await readFields(c.req.raw)
  const created = await createApiKey(c.env.DB, c.var.ctx.config, {
    owner: principal,
    name: fields.name,
    scopes: fields.scopes,
    roles: fields.roles,
    expiresIn: fields.expires_in,
  })
  return c.json(
    {
      id: created.id,
      key: created.key,
      name: created.name,
      scopes: created.scopes,
      roles: created.roles,
      expires_at: created.expires_at,
    },
    201,
    { 'cache-control': 'no-store' },
  )
})

apiKeyRoutes.get('/auth/api-keys', self, async (c) => {
  return c.json({ api_keys: await listOwnApiKeys(c.env.DB, currentPrincipal(c).id) }, 200, {
    'cache-control': 'no-store',
  })
})

apiKeyRoutes.delete('/auth/api-keys/:id', self, async (c) => {
  const revoked = await revokeApiKey(c.env, c.req.param('id'), currentPrincipal(c).id)
  if (!revoked) throw new GatewayError('not_found', 'No active API key of yours has that id.')
  return c.body(null, 204)
})

// Admin: every user's keys (the full admin API comes with its own issue).
const admin = [authenticate({ credentials: ['jwt'] }), requireRole('admin')] as const

apiKeyRoutes.get('/admin/api-keys', ...admin, async (c) => {
  const userId = c.req.query('user_id')
  const keys = await withStorage('list api keys', () => listApiKeys(c.env.DB, userId))
  return c.json({ api_keys: keys.map((key) => ({ ...viewApiKey(key), user_id: key.userId })) }, 200, {
    'cache-control': 'no-store',
  })
})

apiKeyRoutes.delete('/admin/api-keys/:id', ...admin, async (c) => {
  const revoked = await revokeApiKey(c.env, c.req.param('id'))
  if (!revoked) throw new GatewayError('not_found', 'No active API key has that id.')
  return c.body(null, 204)
})
