import { type Context, Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, requireFirstParty, requireScopes } from '../authn'
import { withStorage } from '../db/errors'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { findUserById } from '../users'
import { type ConsentGrant, listGrants, revokeGrant } from './consent'
import { clientCors } from './cors'

/** OpenID Connect's UserInfo endpoint and the user's list of apps they consented to. */
export const oidcRoutes = new Hono<AppBindings>()

const bearer = authenticate({ credentials: ['jwt'] })
// The user's list of apps and withdrawing consent manage the account: the user's own token only.
const own = [bearer, requireFirstParty] as const

/** OIDC Core §5.3: claims about the signed-in user, for an access token that carries `openid`. */
async function userInfo(c: Context<AppBindings>) {
  const principal = currentPrincipal(c)
  // Current facts, not the token's copy: a renamed, re-roled or disabled user shows as such.
  const user = await withStorage('user lookup', () => findUserById(c.env.DB, principal.id))
  if (!user || user.disabled) {
    throw new GatewayError('invalid_token', 'The access token does not belong to an active user.', {
      challenge: { scheme: 'Bearer', error: 'invalid_token' },
    })
  }
  // OIDC Core §5.4: `email` and `email_verified` only for a token granted the `email` scope.
  const email =
    principal.scopes.includes('email') && user.email
      ? { email: user.email, email_verified: user.emailVerified }
      : {}
  return c.json({ sub: user.id, preferred_username: user.username, roles: user.roles, ...email }, 200, {
    'cache-control': 'no-store',
  })
}

// Browser apps ask who signed in (src/oauth/cors.ts); the grants below are the user's, not apps'.
oidcRoutes.use('/auth/userinfo', clientCors(['GET', 'POST']))
oidcRoutes.get('/auth/userinfo', bearer, requireScopes('openid'), userInfo)
oidcRoutes.post('/auth/userinfo', bearer, requireScopes('openid'), userInfo)

function describeGrant(grant: ConsentGrant) {
  return {
    client_id: grant.clientId,
    client_name: grant.clientName ?? grant.clientId,
    scopes: grant.scopes,
    roles: grant.roles,
    created_at: grant.createdAt,
    updated_at: grant.updatedAt,
  }
}

oidcRoutes.get('/auth/grants', ...own, async function listConsents(c) {
  const principal = currentPrincipal(c)
  const grants = await listGrants(c.env.DB, principal.id)
  return c.json({ grants: grants.map(describeGrant) }, 200, { 'cache-control': 'no-store' })
})

oidcRoutes.delete('/auth/grants/:client_id', ...own, async function revokeConsent(c) {
  const principal = currentPrincipal(c)
  const clientId = c.req.param('client_id')
  const ended = await revokeGrant(
    { DB: c.env.DB, KV: c.env.KV },
    {
      userId: principal.id,
      clientId,
      clockSkewSeconds: c.var.ctx.config.settings.clock_skew_seconds,
    },
  )
  if (!ended) throw new GatewayError('not_found', 'No such grant.')
  recordAuditEvent(c.var.ctx, {
    type: 'consent_revoked',
    actorId: principal.id,
    subjectId: principal.id,
    clientId,
  })
  return c.body(null, 204)
})
