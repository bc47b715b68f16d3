/**
 * The email flows' pages: forgot and reset password, verify an address (or confirm a change), and
 * the dev mailbox. GET shows a page and never spends a token; the page's POST does. Every form is
 * CSRF-checked like the login form (pre-session token + same-origin).
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { withStorage } from '../db/errors'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { type PageStatus, renderPage } from '../pages/render'
import { DEFAULT_LANDING_PATH, preSessionFormToken, revokeSubject, signIn } from '../sessions'
import {
  checkPassword,
  findUserByEmail,
  findUserById,
  hashPassword,
  markEmailVerified,
  normalizeEmail,
  setUserEmail,
  updatePasswordHash,
} from '../users'
import { deliveryOf } from './delivery'
import { devMailboxEnabled, listDevMail } from './dev-mailbox'
import {
  ConfirmLinkPage,
  DevMailboxPage,
  DonePage,
  ForgotPasswordPage,
  ResetPasswordPage,
} from './email-pages'
import { FORGOT_PASSWORD_PATH, RESET_PASSWORD_PATH, sendPasswordReset, VERIFY_EMAIL_PATH } from './flows'
import { csrfOk, deadLink, FORM_EXPIRED, mailRequestRefused, productName, TOO_MANY } from './page-guard'
import { consumeEmailToken, endEmailTokens, peekEmailToken } from './token-store'

export const emailRoutes = new Hono<AppBindings>()

// ---- forgot password ----

function forgotPage(
  c: Context<AppBindings>,
  options: { email?: string; sent?: boolean; error?: string },
  status: PageStatus = 200,
) {
  return renderPage(
    c,
    ForgotPasswordPage({ productName: productName(c), csrfToken: preSessionFormToken(c), ...options }),
    status,
  )
}

emailRoutes.get(FORGOT_PASSWORD_PATH, function showForgotPassword(c) {
  return forgotPage(c, {})
})

/**
 * One answer whatever the address: the same page, status and work on the request's path (one
 * lookup); the token and the mail happen after the response (waitUntil), so timing does not tell
 * either. Throttled per submitted address and per client address (/64), before the lookup: first
 * by the rate-limit binding (no D1), then exactly in D1.
 */
emailRoutes.post(FORGOT_PASSWORD_PATH, async function forgotPassword(c) {
  const form = await readForm(c.req.raw)
  if (!(await csrfOk(c, form))) return forgotPage(c, { error: FORM_EXPIRED }, 403)
  const email = normalizeEmail(form.get('email'))
  if (!email) return forgotPage(c, { error: 'Enter an email address.', email: form.get('email') ?? '' }, 400)
  if (await mailRequestRefused(c, email)) return forgotPage(c, { error: TOO_MANY, email }, 429)
  const user = await withStorage('user lookup', () => findUserByEmail(c.env.DB, email))
  recordAuditEvent(c.var.ctx, {
    type: 'password_reset_requested',
    subjectId: user?.id ?? null,
    details: { known: user !== undefined && !user.disabled },
  })
  if (user && !user.disabled && user.email) {
    const delivery = deliveryOf(c)
    const to = user.email
    delivery.waitUntil(sendPasswordReset(delivery, user, to))
  }
  return forgotPage(c, { sent: true })
})

// ---- reset password ----

async function resetSubject(c: Context<AppBindings>, token: string) {
  const row = await withStorage('email token', () => peekEmailToken(c.env.DB, token, 'password_reset'))
  if (!row) return undefined
  const user = await withStorage('user lookup', () => findUserById(c.env.DB, row.userId))
  return user && !user.disabled ? user : undefined
}

emailRoutes.get(RESET_PASSWORD_PATH, async function showResetPassword(c) {
  const token = c.req.query('token') ?? ''
  const user = await resetSubject(c, token)
  if (!user) return deadLink(c)
  return renderPage(
    c,
    ResetPasswordPage({
      productName: productName(c),
      csrfToken: preSessionFormToken(c),
      token,
      username: user.username,
    }),
  )
})

/**
 * Sets the password as a password change does (policy, breach list), then ends every session,
 * refresh family and access token (not-before) and every other emailed token. The browser then
 * signs in through `signIn` with amr `mca` only: a user with a second factor still owes it.
 */
emailRoutes.post(RESET_PASSWORD_PATH, async function resetPassword(c) {
  const form = await readForm(c.req.raw)
  const token = form.get('token') ?? ''
  const user = await resetSubject(c, token)
  if (!user) return deadLink(c)
  const page = (error: string, status: PageStatus) =>
    renderPage(
      c,
      ResetPasswordPage({
        productName: productName(c),
        csrfToken: preSessionFormToken(c),
        token,
        username: user.username,
        error,
      }),
      status,
    )
  if (!(await csrfOk(c, form))) return page(FORM_EXPIRED, 403)
  const password = form.get('password') ?? ''
  const check = checkPassword(password, { username: user.username })
  if (!check.ok) return page(check.message, 400)
  // Spent only now, after the checks a user can fail: a too-short password does not burn the link.
  const row = await withStorage('email token', () => consumeEmailToken(c.env.DB, token, 'password_reset'))
  if (!row || row.userId !== user.id) return deadLink(c)
  const hash = await hashPassword(password, { pepper: c.env.PASSWORD_PEPPER || undefined })
  const { settings } = c.var.ctx.config
  await withStorage('reset password', () => updatePasswordHash(c.env.DB, user.id, hash, true))
  await revokeSubject(c.env, user.id, settings.access_token_ttl_seconds, {
    clockSkewSeconds: settings.clock_skew_seconds,
  })
  await withStorage('end email tokens', () => endEmailTokens(c.env.DB, user.id))
  // The link reached that address: it is proven, if it is still the user's.
  if (!user.emailVerified)
    await withStorage('verify email', () => markEmailVerified(c.env.DB, user.id, row.email))
  recordAuditEvent(c.var.ctx, { type: 'password_reset_completed', actorId: user.id, subjectId: user.id })
  return signIn(c, {
    user,
    amr: ['mca'],
    authMethod: 'password_reset',
    persistent: false,
    returnTo: DEFAULT_LANDING_PATH,
  })
})

// ---- verify an address, confirm a change ----

async function verificationSubject(c: Context<AppBindings>, token: string) {
  for (const purpose of ['verify_email', 'email_change'] as const) {
    const row = await withStorage('email token', () => peekEmailToken(c.env.DB, token, purpose))
    if (!row) continue
    const user = await withStorage('user lookup', () => findUserById(c.env.DB, row.userId))
    if (user && !user.disabled) return { row, user }
  }
  return undefined
}

emailRoutes.get(VERIFY_EMAIL_PATH, async function showVerifyEmail(c) {
  const token = c.req.query('token') ?? ''
  const found = await verificationSubject(c, token)
  if (!found) return deadLink(c)
  const change = found.row.purpose === 'email_change'
  return renderPage(
    c,
    ConfirmLinkPage({
      productName: productName(c),
      csrfToken: preSessionFormToken(c),
      token,
      username: found.user.username,
      email: found.row.email,
      action: VERIFY_EMAIL_PATH,
      title: change ? 'Confirm your new address' : 'Confirm your email address',
      button: 'Confirm',
    }),
  )
})

emailRoutes.post(VERIFY_EMAIL_PATH, async function verifyEmail(c) {
  const form = await readForm(c.req.raw)
  const token = form.get('token') ?? ''
  const found = await verificationSubject(c, token)
  if (!found) return deadLink(c)
  if (!(await csrfOk(c, form))) return deadLink(c, 403)
  const { row, user } = found
  const spent = await withStorage('email token', () => consumeEmailToken(c.env.DB, token, row.purpose))
  if (!spent) return deadLink(c)
  let ok: boolean
  if (row.purpose === 'email_change') {
    ok = await withStorage('change email', () => setUserEmail(c.env.DB, user.id, row.email, true))
    // Whatever was mailed to the old address (a reset link) must not outlive the change.
    if (ok) await withStorage('end email tokens', () => endEmailTokens(c.env.DB, user.id))
  } else {
    ok = await withStorage('verify email', () => markEmailVerified(c.env.DB, user.id, row.email))
  }
  if (!ok) return deadLink(c, 409 as PageStatus)
  recordAuditEvent(c.var.ctx, {
    type: row.purpose === 'email_change' ? 'email_changed' : 'email_verified',
    actorId: user.id,
    subjectId: user.id,
  })
  return renderPage(
    c,
    DonePage({
      productName: productName(c),
      title: 'Address confirmed',
      message: `${row.email} is confirmed.`,
    }),
  )
})

// ---- the dev mailbox (local development only) ----

emailRoutes.get('/dev/mailbox', async function showDevMailbox(c) {
  if (!devMailboxEnabled(c.env, c.var.ctx.config.issuer)) throw new GatewayError('not_found', 'Not found.')
  const to = c.req.query('to')
  const mails = await listDevMail(c.env.KV, to)
  if ((c.req.header('accept') ?? '').includes('application/json'))
    return c.json({ items: mails }, 200, { 'cache-control': 'no-store' })
  return renderPage(c, DevMailboxPage({ productName: productName(c), mails }))
})
