import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { assertRecentAuthentication, authenticate, currentPrincipal, requireFirstParty } from '../authn'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { createApiKey, listOwnApiKeys, revokeApiKey } from './service'

export const apiKeyRoutes = new Hono<AppBindings>()

// Self-service: a user manages their own keys with their own token (an API key cannot mint API
// keys, nor can a token an app obtained for the user: a key would outlive the app's consent).
const self = [authenticate({ credentials: ['jwt'] }), requireFirstParty] as const
// Minting makes a credential that outlives the token, so the token's revocation is checked in D1
// (the truth), not the edge copy: a token ended by logout-all elsewhere cannot mint while KV lags.
const minting = [authenticate({ credentials: ['jwt'], revocation: 'strict' }), requireFirstParty] as const

apiKeyRoutes.post('/auth/api-keys', ...minting, async function createKey(c) {
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
  recordAuditEvent(c.var.ctx, {
    type: 'api_key_created',
    actorId: principal.id,
    subjectId: principal.id,
    clientId: principal.clientId,
    details: {
      key_id: created.id,
      name: created.name,
      scopes: created.scopes,
      expires_at: created.expires_at,
    },
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

apiKeyRoutes.get('/auth/api-keys', ...self, async (c) => {
  return c.json({ api_keys: await listOwnApiKeys(c.env.DB, currentPrincipal(c).id) }, 200, {
    'cache-control': 'no-store',
  })
})

apiKeyRoutes.delete('/auth/api-keys/:id', ...self, async (c) => {
  const principal = currentPrincipal(c)
  const id = c.req.param('id')
  const revoked = await revokeApiKey(c.env, id, principal.id)
  if (!revoked) throw new GatewayError('not_found', 'No active API key of yours has that id.')
  recordAuditEvent(c.var.ctx, {
    type: 'api_key_revoked',
    actorId: principal.id,
    subjectId: principal.id,
    details: { key_id: id, by: 'owner' },
  })
  return c.body(null, 204)
})

// Admins list and revoke every user's keys at /admin/api-keys (src/api-keys/admin-routes.ts).
