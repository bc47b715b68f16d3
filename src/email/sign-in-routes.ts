/**
 * Signing in by email (docs/email.md, "Sign-in link and code"): `POST /auth/email-sign-in` mails a
 * link or a 6-digit code, `GET/POST /auth/sign-in-link` and `POST /auth/email-code` sign in with
 * them. Each is off (404, as an unknown path) unless SETTINGS.email.sign_in_link / sign_in_code
 * turns it on.
 *
 * Only a verified address receives a way in: an unverified one may be a typo or someone else's,
 * and its mailbox must not become a key to the account. A sign-in ends in `signIn` with amr `mca`
 * only, which never satisfies `mfa`: a user with a second factor still owes it.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import type { EmailSettings } from '../config/schema'
import { withStorage } from '../db/errors'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { clientLookup, loginFormTargets } from '../oauth'
import { EMAIL_SIGN_IN_PATH } from '../pages/email-sign-in-form'
import { type PageStatus, renderPage } from '../pages/render'
import { preSessionFormToken, safeReturnTo, signIn } from '../sessions'
import { findUserByEmail, findUserById, normalizeEmail, type User } from '../users'
import { bindingHash, clearLinkBinding, ensureLinkBinding, isBoundBrowser } from './browser-binding'
import { deliveryOf } from './delivery'
import { EMAIL_CODE_PATH, SIGN_IN_LINK_PATH, sendSignInCode, sendSignInLink } from './flows'
import {
  codeCheckRefused,
  csrfOk,
  deadLink,
  FORM_EXPIRED,
  mailRequestRefused,
  productName,
  TOO_MANY,
} from './page-guard'
import { EmailSignInRequestPage, SignInCodePage, SignInLinkPage, SignInLinkSentPage } from './sign-in-pages'
import { consumeEmailToken, consumeSignInCode, peekEmailToken } from './token-store'

export const emailSignInRoutes = new Hono<AppBindings>()

/** One message for every way a code fails: no such account, wrong, expired, used, or out of tries. */
const WRONG_CODE = 'That code is not right, or no longer works. Ask for a new one if needed.'
// consumeSignInCode runs the same statements for an address without an account: no id matches.
const NO_USER = ''

type Kind = 'link' | 'code'

function emailSettings(c: Context<AppBindings>): EmailSettings {
  return c.var.ctx.config.settings.email
}

function offered(settings: EmailSettings) {
  return { link: settings.sign_in_link, code: settings.sign_in_code }
}

function requireOn(on: boolean): void {
  if (!on) throw new GatewayError('not_found', 'Not found.')
}

/** The account an address may sign in to: enabled, and the address is its verified one. */
function signInUser(user: User | undefined): (User & { email: string }) | undefined {
  if (!user || user.disabled || !user.email || !user.emailVerified) return undefined
  return user as User & { email: string }
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

// ---- asking for a link or a code ----

function requestPage(
  c: Context<AppBindings>,
  options: { returnTo: string; email?: string; error: string },
  status: PageStatus,
) {
  const page = EmailSignInRequestPage({
    productName: productName(c),
    csrfToken: preSessionFormToken(c),
    offer: offered(emailSettings(c)),
    ...options,
  })
  return renderPage(c, page, status)
}

/**
 * The CSP `form-action` targets of a page whose POST signs in: a sign-in that returns to an
 * authorization request may be redirected on to the client (Chromium checks `form-action` along
 * the redirects), as on the login form.
 */
async function formTargets(c: Context<AppBindings>, returnTo: string): Promise<string[]> {
  const { config, audit } = c.var.ctx
  const lookUp = clientLookup({ db: c.env.DB, kv: c.env.KV, config, audit })
  return loginFormTargets(c.env.DB, returnTo, lookUp)
}

async function codePage(
  c: Context<AppBindings>,
  options: { email: string; returnTo: string; error?: string },
  status: PageStatus = 200,
) {
  return renderPage(
    c,
    SignInCodePage({ productName: productName(c), csrfToken: preSessionFormToken(c), ...options }),
    status,
    { formTargets: await formTargets(c, options.returnTo) },
  )
}

/**
 * One answer whatever the address (page, status, the work on the request's path: throttle, the
 * binding cookie, one lookup); the token and the mail happen after the response (waitUntil).
 * Throttled per submitted address and per client address (/64), as the forgot-password form.
 */
emailSignInRoutes.post(EMAIL_SIGN_IN_PATH, async function requestEmailSignIn(c) {
  const settings = emailSettings(c)
  requireOn(settings.sign_in_link || settings.sign_in_code)
  const { issuer } = c.var.ctx.config
  const form = await readForm(c.req.raw)
  const kind: Kind = form.get('kind') === 'code' ? 'code' : 'link'
  requireOn(offered(settings)[kind])
  const returnTo = safeReturnTo(form.get('return_to'), issuer)
  if (!(await csrfOk(c, form))) return requestPage(c, { returnTo, error: FORM_EXPIRED }, 403)
  const email = normalizeEmail(form.get('email'))
  if (!email)
    return requestPage(c, { returnTo, email: form.get('email') ?? '', error: 'Enter an email address.' }, 400)
  if (await mailRequestRefused(c, email)) return requestPage(c, { returnTo, email, error: TOO_MANY }, 429)

  // Every browser that asks for a link gets the binding, whether or not a mail goes out.
  const browserHash =
    kind === 'link' ? await bindingHash(ensureLinkBinding(c, issuer, settings.link_ttl_seconds)) : ''
  const user = signInUser(await withStorage('user lookup', () => findUserByEmail(c.env.DB, email)))
  recordAuditEvent(c.var.ctx, {
    type: 'sign_in_link_sent',
    actorId: user?.id ?? null,
    subjectId: user?.id ?? null,
    details: { kind, known: user !== undefined },
  })
  if (user) {
    const delivery = deliveryOf(c)
    delivery.waitUntil(
      kind === 'link'
        ? sendSignInLink(delivery, user, user.email, { browserHash, returnTo })
        : sendSignInCode(delivery, user, user.email),
    )
  }
  if (kind === 'code') return codePage(c, { email, returnTo })
  return renderPage(c, SignInLinkSentPage({ productName: productName(c) }))
})

// ---- the link ----

/** The live link's row and its account (enabled, still holding the address the link went to). */
async function linkSubject(c: Context<AppBindings>, token: string) {
  const row = await withStorage('email token', () => peekEmailToken(c.env.DB, token, 'sign_in_link'))
  if (!row) return undefined
  const user = signInUser(await withStorage('user lookup', () => findUserById(c.env.DB, row.userId)))
  return user && sameAddress(user.email, row.email) ? { row, user } : undefined
}

async function linkPage(
  c: Context<AppBindings>,
  options: { token: string; username: string; otherBrowser: boolean; returnTo: string; error?: string },
  status: PageStatus = 200,
) {
  const { returnTo, ...page } = options
  return renderPage(
    c,
    SignInLinkPage({ productName: productName(c), csrfToken: preSessionFormToken(c), ...page }),
    status,
    { formTargets: await formTargets(c, returnTo) },
  )
}

/** Where the link's sign-in continues: the asking login's `return_to`, checked again. */
function linkReturnTo(c: Context<AppBindings>, returnTo: string | null): string {
  return safeReturnTo(returnTo ?? undefined, c.var.ctx.config.issuer)
}

/** Names the account; never spends the token (mail scanners fetch links). */
emailSignInRoutes.get(SIGN_IN_LINK_PATH, async function showSignInLink(c) {
  requireOn(emailSettings(c).sign_in_link)
  const token = c.req.query('token') ?? ''
  const found = await linkSubject(c, token)
  if (!found) return deadLink(c)
  const otherBrowser = !(await isBoundBrowser(c, c.var.ctx.config.issuer, found.row.browserHash))
  const returnTo = linkReturnTo(c, found.row.returnTo)
  return linkPage(c, { token, username: found.user.username, otherBrowser, returnTo })
})

/**
 * Spends the token and signs in. From a browser other than the one that asked, only the form that
 * showed the question ("Sign in here anyway?") does: without its answer the question is shown.
 */
emailSignInRoutes.post(SIGN_IN_LINK_PATH, async function signInWithLink(c) {
  requireOn(emailSettings(c).sign_in_link)
  const { issuer } = c.var.ctx.config
  const form = await readForm(c.req.raw)
  const token = form.get('token') ?? ''
  const found = await linkSubject(c, token)
  if (!found) return deadLink(c)
  const { user } = found
  const otherBrowser = !(await isBoundBrowser(c, issuer, found.row.browserHash))
  const page = { token, username: user.username, otherBrowser, returnTo: linkReturnTo(c, found.row.returnTo) }
  if (!(await csrfOk(c, form))) return linkPage(c, { ...page, error: FORM_EXPIRED }, 403)
  if (otherBrowser && form.get('other_browser') !== 'confirmed') return linkPage(c, page)
  const spent = await withStorage('email token', () => consumeEmailToken(c.env.DB, token, 'sign_in_link'))
  if (!spent || spent.userId !== user.id) return deadLink(c)
  clearLinkBinding(c, issuer)
  return signIn(c, {
    user,
    amr: ['mca'],
    authMethod: 'email_link',
    persistent: false,
    returnTo: linkReturnTo(c, spent.returnTo),
    details: { other_browser: otherBrowser },
  })
})

// ---- the code ----

/**
 * Checks the code for the submitted address. Throttled per address and per client address before
 * the lookup; every failure, whatever its reason, gets the same page and status.
 */
emailSignInRoutes.post(EMAIL_CODE_PATH, async function signInWithCode(c) {
  const settings = emailSettings(c)
  requireOn(settings.sign_in_code)
  const { issuer } = c.var.ctx.config
  const form = await readForm(c.req.raw)
  const returnTo = safeReturnTo(form.get('return_to'), issuer)
  const email = normalizeEmail(form.get('email'))
  if (!email) return requestPage(c, { returnTo, error: 'Enter an email address.' }, 400)
  if (!(await csrfOk(c, form))) return codePage(c, { email, returnTo, error: FORM_EXPIRED }, 403)
  if (await codeCheckRefused(c, email)) return codePage(c, { email, returnTo, error: TOO_MANY }, 429)

  const user = signInUser(await withStorage('user lookup', () => findUserByEmail(c.env.DB, email)))
  const code = (form.get('code') ?? '').replace(/\s/g, '')
  const row = await withStorage('sign-in code', () =>
    consumeSignInCode(c.env.DB, {
      userId: user?.id ?? NO_USER,
      code,
      maxAttempts: settings.code_max_attempts,
    }),
  )
  if (!user || !row || !sameAddress(row.email, user.email))
    return codePage(c, { email, returnTo, error: WRONG_CODE }, 401)
  return signIn(c, { user, amr: ['mca'], authMethod: 'email_code', persistent: false, returnTo })
})
