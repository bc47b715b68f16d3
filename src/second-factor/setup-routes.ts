/**
 * The authenticator app on the signed-in security pages: GET/POST /auth/second-factor/setup (the
 * QR code and the first code; or, once on, what the user has), POST /auth/second-factor/remove,
 * POST /auth/second-factor/recovery-codes.
 *
 * The browser session only, first-party, and a recent sign-in (like minting an API key): a stolen
 * session must not turn the second factor off, nor put the thief's app on the account. A sign-in
 * older than `factor_change_max_auth_age_seconds` is sent to the login page and back here. Every
 * form carries the session's CSRF token and must pass the origin check (sessions/csrf-guard.ts).
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { renderSVG } from 'uqr'
import { recordAuditEvent } from '../audit'
import { authenticate, requireFirstParty } from '../authn'
import type { AppBindings } from '../env'
import { GatewayError, isGatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { htmlErrors } from '../pages/html-errors'
import { type PageStatus, renderPage } from '../pages/render'
import { limitRequest } from '../rate-limit'
import { assertSignedInForm, type CurrentSession, csrfTokenFor, loginUrl, recentSessionOf } from '../sessions'
import { confirmEnrolment, regenerateRecoveryCodes, removeTotp, startEnrolment } from './service'
import { EnrolPage, ManagePage, RecoveryCodesPage, SETUP_PATH } from './setup-page'
import { findTotp, unusedRecoveryCodes } from './store'

export const secondFactorSetupRoutes = new Hono<AppBindings>()

secondFactorSetupRoutes.use(`${SETUP_PATH}`, htmlErrors())
secondFactorSetupRoutes.use('/auth/second-factor/remove', htmlErrors())
secondFactorSetupRoutes.use('/auth/second-factor/recovery-codes', htmlErrors())

const sessionOnly = [authenticate({ credentials: ['session'] }), requireFirstParty] as const

/** The session, if it signed in recently enough to change factors; else undefined. */
function recentSession(c: Context<AppBindings>): Promise<CurrentSession | undefined> {
  return recentSessionOf(c, c.var.ctx.config.settings.factor_change_max_auth_age_seconds)
}

/** Sign in again, then back to the setup page (a form's POST cannot be replayed after login). */
function reauthenticate(c: Context<AppBindings>, status: 302 | 303): Response {
  c.header('cache-control', 'no-store')
  return c.redirect(loginUrl(SETUP_PATH), status)
}

/** The form's CSRF field against this session (403 `csrf_failed` otherwise). */
function assertForm(c: Context<AppBindings>, session: CurrentSession, form: URLSearchParams) {
  return assertSignedInForm(c, session.value, form)
}

async function renderEnrol(
  c: Context<AppBindings>,
  session: CurrentSession,
  options: { status?: PageStatus; error?: string; token?: string } = {},
): Promise<Response> {
  const { settings } = c.var.ctx.config
  const enrolment = await startEnrolment(c.env, {
    userId: session.userId,
    sessionId: session.id,
    issuerName: settings.product_name,
    accountName: session.username,
    token: options.token,
  })
  return renderPage(
    c,
    EnrolPage({
      productName: settings.product_name,
      csrfToken: await csrfTokenFor(session.value),
      qrSvg: renderSVG(enrolment.uri, { ecc: 'M', border: 2 }),
      secretText: enrolment.secretText,
      enrolmentToken: enrolment.token,
      error: options.error,
    }),
    options.status ?? 200,
  )
}

async function renderManage(
  c: Context<AppBindings>,
  session: CurrentSession,
  since: number,
): Promise<Response> {
  return renderPage(
    c,
    ManagePage({
      productName: c.var.ctx.config.settings.product_name,
      csrfToken: await csrfTokenFor(session.value),
      since,
      recoveryCodesRemaining: await unusedRecoveryCodes(c.env.DB, session.userId),
    }),
  )
}

secondFactorSetupRoutes.get(SETUP_PATH, ...sessionOnly, async function showSetup(c) {
  const session = await recentSession(c)
  if (!session) return reauthenticate(c, 302)
  const totp = await findTotp(c.env.DB, session.userId)
  return totp ? renderManage(c, session, totp.confirmed_at) : renderEnrol(c, session)
})

secondFactorSetupRoutes.post(SETUP_PATH, ...sessionOnly, async function confirmSetup(c) {
  const form = await readForm(c.req.raw)
  const session = await recentSession(c)
  if (!session) return reauthenticate(c, 303)
  await assertForm(c, session, form)
  await limitRequest(c.env, { kind: 'code', ip: c.req.header('cf-connecting-ip'), subject: session.userId })
  let result: Awaited<ReturnType<typeof confirmEnrolment>>
  try {
    result = await confirmEnrolment(c.env, c.var.ctx.config.settings, {
      userId: session.userId,
      sessionId: session.id,
      token: form.get('enrolment') ?? '',
      code: form.get('code') ?? '',
      ip: c.req.header('cf-connecting-ip'),
    })
  } catch (error) {
    // A malformed code (the same secret again) or an expired form (a fresh one).
    if (isGatewayError(error) && error.code === 'invalid_request')
      return renderEnrol(c, session, {
        status: 400,
        error: error.message,
        token: form.get('enrolment') ?? undefined,
      })
    throw error
  }
  if (!result.ok && result.reason === 'exists') {
    throw new GatewayError('conflict', 'An authenticator app is already set up; remove it first.')
  }
  const audit = { actorId: session.userId, subjectId: session.userId }
  if (!result.ok) {
    recordAuditEvent(c.var.ctx, {
      type: 'second_factor_failed',
      outcome: 'failure',
      ...audit,
      details: { reason: 'wrong_code', step: 'enrolment', factor: 'totp' },
    })
    return renderEnrol(c, session, {
      status: 401,
      error: 'That code is not right. Try the next code your app shows.',
      token: form.get('enrolment') ?? undefined,
    })
  }
  recordAuditEvent(c.var.ctx, { type: 'second_factor_enrolled', ...audit, details: { factor: 'totp' } })
  return renderPage(
    c,
    RecoveryCodesPage({
      productName: c.var.ctx.config.settings.product_name,
      codes: result.recoveryCodes,
      enrolled: true,
    }),
  )
})

secondFactorSetupRoutes.post(
  '/auth/second-factor/recovery-codes',
  ...sessionOnly,
  async function newRecoveryCodes(c) {
    const form = await readForm(c.req.raw)
    const session = await recentSession(c)
    if (!session) return reauthenticate(c, 303)
    await assertForm(c, session, form)
    const codes = await regenerateRecoveryCodes(c.env.DB, session.userId)
    if (!codes) throw new GatewayError('not_found', 'You have no authenticator app; set one up first.')
    recordAuditEvent(c.var.ctx, {
      type: 'recovery_codes_regenerated',
      actorId: session.userId,
      subjectId: session.userId,
    })
    return renderPage(
      c,
      RecoveryCodesPage({ productName: c.var.ctx.config.settings.product_name, codes, enrolled: false }),
    )
  },
)

secondFactorSetupRoutes.post('/auth/second-factor/remove', ...sessionOnly, async function removeApp(c) {
  const form = await readForm(c.req.raw)
  const session = await recentSession(c)
  if (!session) return reauthenticate(c, 303)
  await assertForm(c, session, form)
  const result = await removeTotp(c.env.DB, session.userId)
  if (!result.removed) throw new GatewayError('not_found', 'You have no authenticator app to remove.')
  recordAuditEvent(c.var.ctx, {
    type: 'second_factor_removed',
    actorId: session.userId,
    subjectId: session.userId,
    details: { factor: 'totp', mfa_enabled: result.mfaEnabled },
  })
  c.header('cache-control', 'no-store')
  return c.redirect('/auth/account', 303)
})
