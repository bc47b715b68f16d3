/**
 * GET/POST /auth/second-factor: the second step of a sign-in (a pending sign-in cookie, after the
 * password or a provider) and the step-up of a signed-in session. sessions/sign-in.ts decides who
 * stands here (`secondFactorSubject`) and finishes the step (`completeSecondFactor`); this checks
 * the factor.
 *
 * CSRF: a pending sign-in has no session yet, so its forms are guarded like the login form (the
 * pre-session CSRF cookie and the origin check); a step-up's like any signed-in form (the session's
 * token and the origin check). Codes are throttled per address and per user, by the rate-limit
 * binding and then exactly in D1 (service.ts); a refused code is a 401
 * page with one message, a malformed one a 400, a locked one a 429 with Retry-After.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { relyingPartyFor } from '../config/relying-party'
import type { AppBindings } from '../env'
import { type GatewayError, isGatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { passkeyScriptHash } from '../pages/passkey-script'
import { type PageStatus, renderPage } from '../pages/render'
import { limitRequest } from '../rate-limit'
import {
  completeSecondFactor,
  loginUrl,
  SECOND_FACTOR_PATH,
  type SecondFactorSubject,
  safeReturnTo,
  secondFactorSubject,
  secondStepFormAllowed,
  secondStepFormToken,
} from '../sessions'
import { findUserById } from '../users'
import { SecondFactorPage } from './second-factor-page'
import { checkSecondFactor, type SecondFactorAnswer } from './service'
import { countPasskeys, findTotp } from './store'

export const secondFactorRoutes = new Hono<AppBindings>()

const WRONG_CODE = 'That code is not right, or it was already used. Try the next code your app shows.'
const FORM_EXPIRED = 'This form has expired or was sent from another site. Please try again.'

function toLogin(c: Context<AppBindings>, returnTo: string, status: 302 | 303): Response {
  c.header('cache-control', 'no-store')
  return c.redirect(loginUrl(returnTo), status)
}

async function renderStep(
  c: Context<AppBindings>,
  subject: SecondFactorSubject,
  options: { status?: PageStatus; error?: string } = {},
): Promise<Response> {
  const [csrfToken, totp, passkeys] = await Promise.all([
    secondStepFormToken(c, subject),
    findTotp(c.env.DB, subject.userId),
    relyingPartyFor(c.var.ctx.config.issuer) ? countPasskeys(c.env.DB, subject.userId) : 0,
  ])
  if (csrfToken === undefined) return toLogin(c, subject.returnTo, 302)
  return renderPage(
    c,
    SecondFactorPage({
      productName: c.var.ctx.config.settings.product_name,
      username: subject.username,
      kind: subject.kind,
      csrfToken,
      returnTo: subject.returnTo,
      hasTotp: totp !== null,
      hasPasskey: passkeys > 0,
      error: options.error,
    }),
    options.status ?? 200,
    passkeys > 0 ? { scriptHashes: [await passkeyScriptHash()] } : undefined,
  )
}

/** 429 with Retry-After: the step's page saying how long to wait. */
function throttledStep(c: Context<AppBindings>, subject: SecondFactorSubject, error: GatewayError) {
  const wait = Math.max(1, Math.ceil(error.retryAfter ?? 60))
  c.header('retry-after', String(wait))
  return renderStep(c, subject, {
    status: 429,
    error: `Too many attempts. Try again in ${wait} second${wait === 1 ? '' : 's'}.`,
  })
}

secondFactorRoutes.get(SECOND_FACTOR_PATH, async function showSecondFactor(c) {
  const returnTo = safeReturnTo(c.req.query('return_to'), c.var.ctx.config.issuer)
  const subject = await secondFactorSubject(c, returnTo)
  if (!subject) return toLogin(c, returnTo, 302)
  return renderStep(c, subject)
})

function answerOf(form: URLSearchParams): SecondFactorAnswer | undefined {
  const code = form.get('code')
  if (code !== null) return { totp: code }
  const recoveryCode = form.get('recovery_code')
  return recoveryCode === null ? undefined : { recoveryCode }
}

secondFactorRoutes.post(SECOND_FACTOR_PATH, async function verifySecondFactor(c) {
  const { config } = c.var.ctx
  const form = await readForm(c.req.raw)
  const returnTo = safeReturnTo(form.get('return_to'), config.issuer)
  const subject = await secondFactorSubject(c, returnTo)
  // No pending sign-in (expired, forged, never started) and no session: sign in again.
  if (!subject) return toLogin(c, returnTo, 303)
  if (!(await secondStepFormAllowed(c, subject, form.get('csrf'))))
    return renderStep(c, subject, { status: 403, error: FORM_EXPIRED })
  const answer = answerOf(form)
  if (!answer) return renderStep(c, subject, { status: 400, error: 'Enter a code.' })

  const ip = c.req.header('cf-connecting-ip')
  try {
    // The binding first: a refused code reaches no D1 (and records no audit event, a D1 write).
    await limitRequest(c.env, { kind: 'code', ip, subject: subject.userId })
  } catch (error) {
    if (!isGatewayError(error)) throw error
    return throttledStep(c, subject, error)
  }
  const user = await findUserById(c.env.DB, subject.userId)
  if (!user || user.disabled) return toLogin(c, returnTo, 303)

  const audit = { actorId: user.id, subjectId: user.id }
  let result: Awaited<ReturnType<typeof checkSecondFactor>>
  try {
    result = await checkSecondFactor(c.env, config.settings, { userId: user.id, answer, ip })
  } catch (error) {
    if (!isGatewayError(error)) throw error
    if (error.code === 'invalid_request') return renderStep(c, subject, { status: 400, error: error.message })
    if (error.code === 'rate_limited') {
      recordAuditEvent(c.var.ctx, {
        type: 'throttled',
        outcome: 'failure',
        ...audit,
        details: { via: 'second_factor' },
      })
      return throttledStep(c, subject, error)
    }
    throw error
  }
  if (!result.ok) {
    recordAuditEvent(c.var.ctx, {
      type: 'second_factor_failed',
      outcome: 'failure',
      ...audit,
      details: {
        reason: result.reason,
        step: subject.kind,
        factor: 'totp' in answer ? 'totp' : 'recovery_code',
      },
    })
    return renderStep(c, subject, { status: 401, error: WRONG_CODE })
  }
  recordAuditEvent(c.var.ctx, {
    type: result.factor === 'recovery_code' ? 'recovery_code_used' : 'second_factor_verified',
    ...audit,
    details: { factor: result.factor, step: subject.kind },
  })
  // RFC 8176 has no value of its own for a recovery code; it is a one-time password too.
  return completeSecondFactor(c, subject, user, ['otp'])
})
