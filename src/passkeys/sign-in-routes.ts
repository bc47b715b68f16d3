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
import { passkeyAmr } from '../authz/authentication-strength'
import type { RelyingParty } from '../config/relying-party'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { limitRequest } from '../rate-limit'
import {
  completeSecondFactor,
  loginFormAllowed,
  presentedCsrfCookie,
  safeReturnTo,
  secondFactorSubject,
  secondStepFormAllowed,
  signIn,
} from '../sessions'
import { findUserById } from '../users'
import { ensureBinding } from './challenges'
import { AssertionCredential, readCredential } from './credential-json'
import { auditedCeremony, ceremonyContext, requireRelyingParty } from './http'
import { CeremonyRefused } from './refusal'
import { authenticationOptions, finishAuthentication } from './service'

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
  // Before any D1 work: an options request writes a challenge, an assertion reads and updates.
  await limitRequest(c.env, { kind: 'passkey', ip: c.req.header('cf-connecting-ip') })
}

passkeySignInRoutes.post('/auth/passkeys/authentication-options', async function passkeyOptions(c) {
  const rp = requireRelyingParty(c)
  await assertLoginForm(c, await readFields(c.req.raw))
  const binding = ensureBinding(c, c.var.ctx.config.issuer)
  return c.json(await authenticationOptions(c.env.DB, { rp, binding }), 200, { 'cache-control': 'no-store' })
})

/**
 * The script reads where to go from JSON (a fetch cannot follow a 303 into a page load): the
 * sessions room's redirect, its cookies kept, as `{redirect}`.
 */
function asJsonRedirect(redirect: Response): Response {
  const headers = new Headers(redirect.headers)
  const location = headers.get('location') ?? '/'
  headers.delete('location')
  headers.set('content-type', 'application/json')
  headers.set('cache-control', 'no-store')
  return new Response(JSON.stringify({ redirect: location }), { status: 200, headers })
}

async function verifiedUser(c: Context<AppBindings>, rp: RelyingParty, fields: Record<string, unknown>) {
  return auditedCeremony(c, 'authentication', null, async () => {
    const credential = readCredential(AssertionCredential, fields.credential)
    const signedIn = await finishAuthentication(ceremonyContext(c, rp), credential)
    const user = await findUserById(c.env.DB, signedIn.userId)
    if (!user || user.disabled) throw new CeremonyRefused('account_unavailable', signedIn)
    return { user, signedIn, amr: passkeyAmr({ backedUp: signedIn.backedUp, userVerified: true }) }
  })
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
  const { user, signedIn, amr } = await verifiedUser(c, rp, fields)
  recordAuditEvent(c.var.ctx, {
    type: 'login_succeeded',
    actorId: user.id,
    subjectId: user.id,
    details: { method: 'passkey', passkey_id: signedIn.passkeyId, amr },
  })
  const persistent = typeof fields.remember === 'string' && fields.remember !== ''
  // A verified passkey is two factors (amr `mfa`): signIn never asks this user for another step.
  return asJsonRedirect(await signIn(c, { user, amr, authMethod: 'passkey', persistent, returnTo }))
})

/**
 * A passkey as the second step: after a password or provider sign-in (the pending sign-in), or to
 * step a signed-in session up. The CSRF guard is the second step's (sessions' secondStepFormAllowed);
 * the assertion must be of a passkey of the very user at that step.
 */
async function secondStepSubject(c: Context<AppBindings>, fields: Record<string, unknown>) {
  const returnTo = safeReturnTo(
    typeof fields.return_to === 'string' ? fields.return_to : undefined,
    c.var.ctx.config.issuer,
  )
  const subject = await secondFactorSubject(c, returnTo)
  if (!subject) throw new GatewayError('invalid_credentials', 'This sign-in has expired: sign in again.')
  if (!(await secondStepFormAllowed(c, subject, typeof fields.csrf === 'string' ? fields.csrf : undefined)))
    throw new GatewayError('csrf_failed', FORM_EXPIRED)
  return subject
}

passkeySignInRoutes.post('/auth/passkeys/second-factor-options', async function secondStepOptions(c) {
  const rp = requireRelyingParty(c)
  await secondStepSubject(c, await readFields(c.req.raw))
  const binding = ensureBinding(c, c.var.ctx.config.issuer)
  return c.json(await authenticationOptions(c.env.DB, { rp, binding }), 200, { 'cache-control': 'no-store' })
})

passkeySignInRoutes.post('/auth/passkeys/second-factor', async function passkeySecondStep(c) {
  const rp = requireRelyingParty(c)
  const fields = await readFields(c.req.raw)
  const subject = await secondStepSubject(c, fields)
  const { user, signedIn, amr } = await verifiedUser(c, rp, fields)
  if (user.id !== subject.userId) {
    recordAuditEvent(c.var.ctx, {
      type: 'passkey_refused',
      outcome: 'failure',
      actorId: subject.userId,
      subjectId: subject.userId,
      details: { ceremony: 'authentication', reason: 'other_user', passkey_id: signedIn.passkeyId },
    })
    throw new GatewayError('invalid_credentials', 'This passkey belongs to another account.')
  }
  recordAuditEvent(c.var.ctx, {
    type: 'second_factor_verified',
    actorId: user.id,
    subjectId: user.id,
    details: { method: 'passkey', passkey_id: signedIn.passkeyId, step: subject.kind },
  })
  return asJsonRedirect(await completeSecondFactor(c, subject, user, amr))
})
