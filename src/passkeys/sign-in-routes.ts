/**
 * Signing in with a passkey, from the login page's script (pages/passkey-script.ts):
 * POST /auth/passkeys/authentication-options and POST /auth/passkeys/authentication. Both carry the
 * login form's CSRF token and must pass the same-origin check, as POST /auth/login does (login
 * CSRF). Success ends any session this browser had (fixation), creates a new one and answers
 * `{redirect}`: the form's return_to, so a passkey is also the login step of /auth/authorize.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import {
  cookieNames,
  createSession,
  csrfTokenFor,
  endSessionByValue,
  loginFormAllowed,
  presentedCsrfCookie,
  readCookieValues,
  safeReturnTo,
  setSessionCookies,
} from '../sessions'
import { findUserById, type User } from '../users'
import { ensureBinding } from './challenges'
import { AssertionCredential, readCredential } from './credential-json'
import { auditedCeremony, ceremonyContext, requireRelyingParty } from './http'
import { CeremonyRefused } from './refusal'
import { authenticationOptions, finishAuthentication, passkeyAmr } from './service'

export const passkeySignInRoutes = new Hono<AppBindings>()

const FORM_EXPIRED = 'This sign-in page has expired or was sent from another site. Reload it and try again.'

async function assertLoginForm(c: Context<AppBindings>, fields: Record<string, unknown>): Promise<void> {
  const allowed = await loginFormAllowed({
    request: c.req.raw,
    config: c.var.ctx.config,
    cookieToken: presentedCsrfCookie(c),
    field: typeof fields.csrf === 'string' ? fields.csrf : undefined,
  })
  if (!allowed) throw new GatewayError('csrf_failed', FORM_EXPIRED)
}

passkeySignInRoutes.post('/auth/passkeys/authentication-options', async function passkeyOptions(c) {
  const rp = requireRelyingParty(c)
  await assertLoginForm(c, await readFields(c.req.raw))
  const binding = ensureBinding(c, c.var.ctx.config.issuer)
  return c.json(await authenticationOptions(c.env.DB, { rp, binding }), 200, { 'cache-control': 'no-store' })
})

/**
 * The browser session of a passkey sign-in. One function so that it becomes one call of the
 * sessions room's `signIn(c, {user, amr, authMethod, persistent, returnTo})` once that exists.
 */
async function startSession(
  c: Context<AppBindings>,
  input: { user: User; amr: string[]; persistent: boolean; returnTo: string },
): Promise<Response> {
  const { config } = c.var.ctx
  const names = cookieNames(config.issuer)
  const session = await createSession(c.env, config.settings, {
    user: input.user,
    persistent: input.persistent,
    userAgent: c.req.header('user-agent') ?? null,
    ip: c.req.header('cf-connecting-ip') ?? null,
    authMethod: 'passkey',
    amr: input.amr,
  })
  recordAuditEvent(c.var.ctx, {
    type: 'session_created',
    actorId: input.user.id,
    subjectId: input.user.id,
    details: { session_id: session.id, persistent: input.persistent },
  })
  const maxAge = input.persistent ? config.settings.session_lifetime_seconds : undefined
  setSessionCookies(c, names, session.value, await csrfTokenFor(session.value), maxAge)
  return c.json({ redirect: input.returnTo }, 200, { 'cache-control': 'no-store' })
}

passkeySignInRoutes.post('/auth/passkeys/authentication', async function signInWithPasskey(c) {
  const rp = requireRelyingParty(c)
  const { config } = c.var.ctx
  const fields = await readFields(c.req.raw)
  await assertLoginForm(c, fields)
  const returnTo = safeReturnTo(
    typeof fields.return_to === 'string' ? fields.return_to : undefined,
    config.issuer,
  )
  // Session fixation: whatever session this browser had ends before anyone signs in.
  for (const value of readCookieValues(c.req.header('cookie') ?? null, cookieNames(config.issuer).session))
    await endSessionByValue(c.env, value)

  const { user, signedIn } = await auditedCeremony(c, 'authentication', null, async () => {
    const credential = readCredential(AssertionCredential, fields.credential)
    const signedIn = await finishAuthentication(ceremonyContext(c, rp), credential)
    const user = await findUserById(c.env.DB, signedIn.userId)
    if (!user || user.disabled) throw new CeremonyRefused('account_unavailable', signedIn)
    return { user, signedIn }
  })
  const amr = passkeyAmr(signedIn.backedUp)
  recordAuditEvent(c.var.ctx, {
    type: 'login_succeeded',
    actorId: user.id,
    subjectId: user.id,
    details: { method: 'passkey', passkey_id: signedIn.passkeyId, amr },
  })
  const persistent = typeof fields.remember === 'string' && fields.remember !== ''
  return startSession(c, { user, amr, persistent, returnTo })
})
