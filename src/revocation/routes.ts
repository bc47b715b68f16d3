import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { readBearerToken } from '../authn'
import type { Principal } from '../authz/principal'
import { effectiveRoles } from '../authz/roles'
import { sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import {
  authenticateClient,
  type ClientAuthentication,
  clientCors,
  clientLookup,
  invalidClient,
} from '../oauth'
import {
  findRefreshToken,
  isRefreshTokenShape,
  type KeyRing,
  loadKeyRing,
  type RefreshTokenRow,
  revokeTokenFamily,
  verifyAccessToken,
} from '../tokens'
import { findUserById } from '../users'
import { assertNotRevoked, revokeAccessToken } from './denylist'

export const revocationRoutes = new Hono<AppBindings>()

// A browser app revokes its own tokens at sign-out (src/oauth/cors.ts); introspection is for
// confidential clients and admins, not pages, so it answers no CORS.
revocationRoutes.use('/auth/revoke', clientCors(['POST']))

/** Who is asking: a client (RFC 7009 §2.1 / RFC 7662 §2.1) or a user with a bearer token. */
type Caller =
  | { kind: 'client'; auth: ClientAuthentication }
  | { kind: 'user'; principal: Principal; admin: boolean }

async function verifyOurs(
  c: Context<AppBindings>,
  ring: KeyRing,
  token: string,
): Promise<Principal | undefined> {
  const { config } = c.var.ctx
  try {
    return await verifyAccessToken(token, ring, {
      issuer: config.issuer,
      audience: config.settings.audience,
      clockSkewSeconds: config.settings.clock_skew_seconds,
      maxLifetimeSeconds: config.settings.access_token_ttl_seconds,
    })
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'invalid_token') return undefined
    throw error
  }
}

async function identifyCaller(
  c: Context<AppBindings>,
  form: URLSearchParams,
  ring: KeyRing,
): Promise<Caller> {
  const { config, audit } = c.var.ctx
  const lookUp = clientLookup({ db: c.env.DB, kv: c.env.KV, config, audit })
  const auth = await authenticateClient(c.env.DB, c.req.raw, form, lookUp)
  if (auth) return { kind: 'client', auth }
  const token = readBearerToken(c.req.raw)
  const principal = token ? await verifyOurs(c, ring, token) : undefined
  if (!principal) throw invalidClient('Authenticate as a client, or with your own access token.')
  // A revoked caller token is no credential at all.
  try {
    await assertNotRevoked(c.env, principal, { strict: true })
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'invalid_token') throw invalidClient()
    throw error
  }
  // Admin powers need the admin's own token: a token an app obtained for an admin is delegated.
  const admin =
    principal.firstParty === true &&
    effectiveRoles(principal.roles, c.var.ctx.config.roleClosure).has('admin')
  return { kind: 'user', principal, admin }
}

/**
 * Whether the caller may act on a token of (`subject`, `clientId`): its client, an admin, the
 * owner with their own first-party token, or (RFC 7009 §2.1) a delegated token for the tokens of
 * the same user issued to its own client only, never the user's other apps or sessions.
 */
function callerOwns(caller: Caller, subject: string, clientId: string | undefined): boolean {
  if (caller.kind === 'client') return clientId !== undefined && caller.auth.client.clientId === clientId
  if (caller.admin) return true
  const { principal } = caller
  if (principal.id !== subject) return false
  // Both client-less counts as the same client: the user's own password-grant tokens.
  return principal.firstParty === true || principal.clientId === clientId
}

async function findRefresh(c: Context<AppBindings>, token: string): Promise<RefreshTokenRow | undefined> {
  if (!isRefreshTokenShape(token)) return undefined
  const hash = await sha256Hex(token)
  return withStorage('refresh token lookup', () => findRefreshToken(c.env.DB, hash))
}

function requiredToken(form: URLSearchParams): string {
  const token = form.get('token')
  if (!token) throw new GatewayError('invalid_request', 'The "token" parameter is required.')
  return token
}

function auditRevoked(
  c: Context<AppBindings>,
  caller: Caller,
  subjectId: string,
  clientId: string | null | undefined,
  tokenType: 'access_token' | 'refresh_token',
): void {
  recordAuditEvent(c.var.ctx, {
    type: 'token_revoked',
    actorId: caller.kind === 'client' ? caller.auth.client.clientId : caller.principal.id,
    subjectId,
    clientId,
    details: { token_type: tokenType, by: caller.kind },
  })
}

// RFC 7009: 200 with an empty body whether or not anything was revoked (unknown, malformed,
// expired and foreign tokens included). `token_type_hint` is never trusted: refresh tokens
// (`rt_...`) and access tokens (a JWS) have disjoint shapes, so every token is looked up as the
// kind its shape says, which searches all kinds in one step whatever the hint claims.
revocationRoutes.post('/auth/revoke', async function revoke(c) {
  const form = await readForm(c.req.raw)
  const token = requiredToken(form)
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  const caller = await identifyCaller(c, form, ring)
  // Tokens are accepted up to the clock skew after exp: the denial must last as long.
  const deny = { clockSkewSeconds: c.var.ctx.config.settings.clock_skew_seconds }
  const refresh = await findRefresh(c, token)
  if (refresh) {
    if (callerOwns(caller, refresh.user_id, refresh.client_id ?? undefined)) {
      await revokeTokenFamily(c.env, refresh.family_id, deny)
      auditRevoked(c, caller, refresh.user_id, refresh.client_id, 'refresh_token')
    }
  } else {
    const principal = await verifyOurs(c, ring, token)
    if (principal?.tokenId && principal.expiresAt && callerOwns(caller, principal.id, principal.clientId)) {
      await revokeAccessToken(
        c.env,
        { jti: principal.tokenId, subject: principal.id, expiresAt: principal.expiresAt },
        deny,
      )
      auditRevoked(c, caller, principal.id, principal.clientId, 'access_token')
    }
  }
  return c.body(null, 200, { 'cache-control': 'no-store' })
})

const INACTIVE = { active: false } as const

async function introspectRefresh(c: Context<AppBindings>, caller: Caller, row: RefreshTokenRow) {
  const now = nowSeconds()
  if (row.used_at !== null || row.revoked_at !== null || row.expires_at <= now) return INACTIVE
  if (!callerOwns(caller, row.user_id, row.client_id ?? undefined)) return INACTIVE
  const user = await withStorage('user lookup', () => findUserById(c.env.DB, row.user_id))
  if (!user || user.disabled) return INACTIVE
  return {
    active: true,
    token_type: 'refresh_token',
    scope: row.scope,
    client_id: row.client_id ?? undefined,
    username: user.username,
    sub: row.user_id,
    iat: row.issued_at,
    exp: row.expires_at,
    iss: c.var.ctx.config.issuer,
  }
}

async function introspectAccess(c: Context<AppBindings>, caller: Caller, ring: KeyRing, token: string) {
  const principal = await verifyOurs(c, ring, token)
  if (!principal || !callerOwns(caller, principal.id, principal.clientId)) return INACTIVE
  try {
    await assertNotRevoked(c.env, principal, { strict: true })
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'invalid_token') return INACTIVE
    throw error
  }
  const { config } = c.var.ctx
  return {
    active: true,
    token_type: 'access_token',
    scope: principal.scopes.join(' '),
    client_id: principal.clientId,
    username: principal.username,
    sub: principal.id,
    roles: principal.roles,
    jti: principal.tokenId,
    exp: principal.expiresAt,
    iss: config.issuer,
    aud: config.settings.audience,
  }
}

// RFC 7662: a confidential client (for tokens issued to it) or an admin (for any token). Anything
// not active for that caller is exactly {"active": false}, with no hint why.
revocationRoutes.post('/auth/introspect', async function introspect(c) {
  const form = await readForm(c.req.raw)
  const token = requiredToken(form)
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  const caller = await identifyCaller(c, form, ring)
  if (caller.kind === 'client' ? !caller.auth.confidential : !caller.admin) {
    throw invalidClient('Introspection requires a confidential client or an admin.')
  }
  const refresh = await findRefresh(c, token)
  const body = refresh
    ? await introspectRefresh(c, caller, refresh)
    : await introspectAccess(c, caller, ring, token)
  return c.json(body, 200, { 'cache-control': 'no-store' })
})
