/**
 * The account page's email forms: POST /auth/account/email changes (or adds) the address, POST
 * /auth/account/email/verification mails the verification link again. The browser session only,
 * first-party, with the session's CSRF token; both answer with the account page and a notice.
 *
 * A change needs a recent sign-in (`factor_change_max_auth_age_seconds`, as the second-factor
 * pages): whoever holds a stolen session must not move the account's address, through which the
 * password can be reset. An older sign-in goes to the login page and back to the account page.
 * Both forms are throttled like forgot-password (per submitted address and per client address),
 * since each mails an address the caller typed.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { authenticate, currentPrincipal, type Principal, requireFirstParty } from '../authn'
import { withStorage } from '../db/errors'
import { deliveryOf, mailRequestRefused, requestAddressChange, resendVerification } from '../email'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { htmlErrors } from '../pages/html-errors'
import {
  assertSignedInForm,
  type CurrentSession,
  currentSessionOf,
  DEFAULT_LANDING_PATH,
  loginUrl,
  recentSessionOf,
} from '../sessions'
import { findUserById, normalizeEmail, type User } from '../users'
import { ACCOUNT_EMAIL_PATH, ACCOUNT_EMAIL_VERIFICATION_PATH } from './account-email-section'
import { renderAccountPage } from './account-home-view'

export const accountEmailRoutes = new Hono<AppBindings>()

accountEmailRoutes.use(ACCOUNT_EMAIL_PATH, htmlErrors())
accountEmailRoutes.use(ACCOUNT_EMAIL_VERIFICATION_PATH, htmlErrors())

const sessionOnly = [authenticate({ credentials: ['session'] }), requireFirstParty] as const

const TOO_MANY = 'Too many emails were asked for. Try again later.'

/** Sign in again, then back to the account page (a form's POST cannot be replayed after login). */
function reauthenticate(c: Context<AppBindings>): Response {
  c.header('cache-control', 'no-store')
  return c.redirect(loginUrl(DEFAULT_LANDING_PATH), 303)
}

/** The form's CSRF field against this session (403 `csrf_failed` otherwise), then the user's row. */
async function formUser(
  c: Context<AppBindings>,
  principal: Principal,
  session: CurrentSession,
  form: URLSearchParams,
): Promise<User> {
  await assertSignedInForm(c, session.value, form)
  const user = await withStorage('user lookup', () => findUserById(c.env.DB, principal.id))
  if (!user || user.disabled) throw new GatewayError('invalid_credentials', 'Sign in again.')
  return user
}

function notice(text: string, error = false) {
  return { notice: { text, error } }
}

accountEmailRoutes.post(ACCOUNT_EMAIL_PATH, ...sessionOnly, async function changeEmail(c) {
  const principal = currentPrincipal(c)
  const form = await readForm(c.req.raw)
  const maxAge = c.var.ctx.config.settings.factor_change_max_auth_age_seconds
  const session = await recentSessionOf(c, maxAge)
  if (!session || session.userId !== principal.id) return reauthenticate(c)
  const user = await formUser(c, principal, session, form)
  const email = normalizeEmail(form.get('email'))
  if (!email)
    return renderAccountPage(c, principal, session, {
      ...notice('Enter a valid email address, like name@example.com.', true),
      status: 400,
    })
  if (await mailRequestRefused(c, email))
    return renderAccountPage(c, principal, session, { ...notice(TOO_MANY, true), status: 429 })
  const started = await withStorage('email change', () => requestAddressChange(deliveryOf(c), user, email))
  // The same words whoever holds the address (account enumeration): see email/own-address.ts.
  const text = started
    ? `We mailed a link to ${email}. Your address changes when you open it and press Confirm (within 30 minutes).`
    : `${email} is already your address.`
  return renderAccountPage(c, principal, session, notice(text))
})

accountEmailRoutes.post(ACCOUNT_EMAIL_VERIFICATION_PATH, ...sessionOnly, async function resendLink(c) {
  const principal = currentPrincipal(c)
  const form = await readForm(c.req.raw)
  const session = await currentSessionOf(c)
  if (!session || session.userId !== principal.id) return reauthenticate(c)
  const user = await formUser(c, principal, session, form)
  if (!user.email || user.emailVerified)
    return renderAccountPage(c, principal, session, {
      ...notice('There is no unverified address to confirm.', true),
      status: 400,
    })
  if (await mailRequestRefused(c, user.email))
    return renderAccountPage(c, principal, session, { ...notice(TOO_MANY, true), status: 429 })
  resendVerification(deliveryOf(c), user)
  return renderAccountPage(c, principal, session, notice(`We mailed a new link to ${user.email}.`))
})
