import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, requireFirstParty } from '../authn'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { deliveryOf, endEmailTokens, sendAddressInUse, sendVerificationMail } from '../email'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { limitRequest } from '../rate-limit'
import { revokeAccessToken } from '../revocation'
import { revokeSubject, signedOut } from '../sessions'
import {
  createRefreshToken,
  type GrantContext,
  issueTokenResponse,
  loadKeyRing,
  revokeTokenFamily,
} from '../tokens'
import {
  checkPassword,
  findUserByEmail,
  hashPassword,
  insertUser,
  normalizeEmail,
  reserveRegistration,
  USERNAME,
  type User,
  updatePasswordHash,
  verifyLogin,
} from '../users'

export const accountRoutes = new Hono<AppBindings>()

function stringField(fields: Record<string, unknown>, name: string): string {
  const value = fields[name]
  if (typeof value !== 'string' || value.length === 0) {
    throw new GatewayError('invalid_request', `The "${name}" field is required and must be a string.`)
  }
  return value
}

function assertAcceptablePassword(password: string, username: string): void {
  const check = checkPassword(password, { username })
  if (!check.ok) throw new GatewayError('invalid_request', check.message)
}

/**
 * 403 when sign-up is off; else the rate-limit bindings (per address, and the password ceiling:
 * registration hashes one) and the caller's per-address reservation in D1, taken before the body
 * is read and the password hashed so that a burst is cut at the limit.
 */
export async function admitRegistration(c: Context<AppBindings>): Promise<void> {
  const { settings } = c.var.ctx.config
  if (!settings.registration) throw new GatewayError('registration_disabled', 'Registration is turned off.')
  const ip = c.req.header('cf-connecting-ip')
  await limitRequest(c.env, { kind: 'registration', ip })
  if (ip) await reserveRegistration(c.env.DB, settings.throttle, ip)
}

/**
 * Creates the account `fields` ({username, password}) describe, after `admitRegistration`. The
 * caller reads the fields through the capped reader (form.ts): here for JSON and API clients,
 * register-page-routes.ts for the browser form.
 */
export async function createAccount(c: Context<AppBindings>, fields: Record<string, unknown>): Promise<User> {
  const { settings } = c.var.ctx.config
  const username = stringField(fields, 'username')
  const password = stringField(fields, 'password')
  if (!USERNAME.test(username)) {
    throw new GatewayError(
      'invalid_request',
      'The username must be 3-64 letters, digits or . _ @ + - characters.',
    )
  }
  const email = registrationEmail(c, fields)
  assertAcceptablePassword(password, username)
  const passwordHash = await hashPassword(password, { pepper: c.env.PASSWORD_PEPPER || undefined })
  const user = await withStorage('create user', () =>
    insertUser(c.env.DB, { username, passwordHash, roles: settings.default_roles, email }),
  )
  if (!user) throw new GatewayError('conflict', 'That username is taken.')
  recordAuditEvent(c.var.ctx, {
    type: 'user_created',
    actorId: user.id,
    subjectId: user.id,
    details: { username: user.username, roles: user.roles, via: 'registration' },
  })
  if (email) await attachEmail(c, user, email)
  return user
}

/** The optional `email` field (required when SETTINGS.email.required_at_registration), normalized. */
function registrationEmail(c: Context<AppBindings>, fields: Record<string, unknown>): string | undefined {
  const raw = typeof fields.email === 'string' ? fields.email.trim() : ''
  if (raw === '') {
    if (c.var.ctx.config.settings.email.required_at_registration)
      throw new GatewayError('invalid_request', 'An email address is required.')
    return undefined
  }
  const email = normalizeEmail(raw)
  if (!email) throw new GatewayError('invalid_request', 'The email address is not valid.')
  return email
}

/**
 * Mails the new account's verification link, when the insert gave it the address (unverified). An
 * address someone holds is not taken: the answer stays the same (no 409 that would tell the address
 * has an account), the new account has no address, and the holder gets a mail saying someone tried.
 */
async function attachEmail(c: Context<AppBindings>, user: User, email: string): Promise<void> {
  const delivery = deliveryOf(c)
  if (user.email === email) {
    await withStorage('email token', () => sendVerificationMail(delivery, user, email))
    return
  }
  const owner = await withStorage('user lookup', () => findUserByEmail(c.env.DB, email))
  if (owner?.email) sendAddressInUse(delivery, owner, owner.email)
}

accountRoutes.post('/auth/register', async function register(c) {
  await admitRegistration(c)
  const user = await createAccount(c, await readFields(c.req.raw))
  return c.json({ id: user.id, username: user.username }, 201)
})

accountRoutes.get('/auth/me', authenticate({ credentials: ['jwt', 'api_key', 'session'] }), (c) => {
  const principal = currentPrincipal(c)
  return c.json(
    {
      id: principal.id,
      username: principal.username,
      roles: principal.roles,
      scopes: principal.scopes,
      auth_method: principal.method,
      ...(principal.clientId ? { client_id: principal.clientId } : {}),
    },
    200,
    { 'cache-control': 'no-store' },
  )
})

accountRoutes.post(
  '/auth/password',
  authenticate({ credentials: ['jwt'] }),
  requireFirstParty,
  async function changePassword(c) {
    const principal = currentPrincipal(c)
    const fields = await readFields(c.req.raw)
    const current = stringField(fields, 'current_password')
    const next = stringField(fields, 'new_password')
    const { config } = c.var.ctx
    const user = await verifyLogin(
      c.env,
      config.settings,
      {
        username: principal.username,
        password: current,
        ip: c.req.header('cf-connecting-ip'),
        audit: c.var.ctx.audit,
        via: 'password_change',
      },
      'invalid_credentials',
    )
    if (user.id !== principal.id)
      throw new GatewayError('forbidden', 'Only a user can change their own password.')
    assertAcceptablePassword(next, user.username)
    const hash = await hashPassword(next, { pepper: c.env.PASSWORD_PEPPER || undefined })
    await withStorage('change password', () => updatePasswordHash(c.env.DB, user.id, hash, true))
    // A reset or sign-in link mailed before the change must not outlive it.
    await withStorage('end email tokens', () => endEmailTokens(c.env.DB, user.id))
    // A changed password ends every session; the caller continues in a new one, returned here.
    await revokeSubject(c.env, user.id, config.settings.access_token_ttl_seconds)
    recordAuditEvent(c.var.ctx, { type: 'password_changed', actorId: user.id, subjectId: user.id })
    const context: GrantContext = {
      db: c.env.DB,
      kv: c.env.KV,
      config,
      ring: await loadKeyRing(c.env.SIGNING_KEYS),
    }
    // The caller just proved the current password: the new session's auth_time is now.
    const authTime = nowSeconds()
    const session = await createRefreshToken(c.env.DB, {
      userId: user.id,
      clientId: principal.clientId,
      scope: principal.scopes.join(' '),
      ttlSeconds: config.settings.refresh_token_ttl_seconds,
      authTime,
      // Only first-party credentials reach this endpoint (requireFirstParty).
      firstParty: true,
    })
    const tokens = await issueTokenResponse(context, user, principal.scopes, {
      clientId: principal.clientId,
      sessionId: session.familyId,
      refreshToken: session.token,
      authTime,
      firstParty: true,
    })
    return c.json(tokens, 200, { 'cache-control': 'no-store' })
  },
)

accountRoutes.post('/auth/logout', authenticate({ credentials: ['jwt'] }), async function logout(c) {
  const principal = currentPrincipal(c)
  const deny = { clockSkewSeconds: c.var.ctx.config.settings.clock_skew_seconds }
  const denied = principal.sessionId ? await revokeTokenFamily(c.env, principal.sessionId, deny) : new Set()
  // The family's own tokens, this one among them, are denied already: one KV write per key.
  if (principal.tokenId && principal.expiresAt && !denied.has(principal.tokenId)) {
    await revokeAccessToken(
      c.env,
      { jti: principal.tokenId, subject: principal.id, expiresAt: principal.expiresAt },
      deny,
    )
  }
  recordAuditEvent(c.var.ctx, {
    type: 'logout',
    actorId: principal.id,
    subjectId: principal.id,
    clientId: principal.clientId,
    details: { method: principal.method },
  })
  return c.body(null, 204)
})

accountRoutes.post(
  '/auth/logout-all',
  authenticate({ credentials: ['jwt', 'session'] }),
  requireFirstParty,
  async function logoutAll(c) {
    const principal = currentPrincipal(c)
    const { settings } = c.var.ctx.config
    // Ends every token and browser session of the user (revokeSubject marks the session rows too).
    await revokeSubject(c.env, principal.id, settings.access_token_ttl_seconds, {
      clockSkewSeconds: settings.clock_skew_seconds,
    })
    recordAuditEvent(c.var.ctx, {
      type: 'logout_all',
      actorId: principal.id,
      subjectId: principal.id,
      details: { method: principal.method },
    })
    return principal.method === 'session' ? signedOut(c) : c.body(null, 204)
  },
)
