/**
 * GET/POST /auth/login: the browser login form and the session it creates.
 * Login CSRF: the form carries a token that must equal the pre-session CSRF cookie, and the
 * POST must also pass the same-origin check, so another site cannot sign a victim into the
 * attacker's account. Session fixation: a cookie presented to the form is ended first, and every
 * login makes a new session with a new cookie value.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { verifyLogin } from '../accounts/login'
import { recordAuditEvent } from '../audit/record'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { loginReturnTarget } from '../oauth/login-return'
import { LoginPage } from '../pages/login-page'
import { type PageStatus, renderPage } from '../pages/render'
import { cookieNames, readCookieValues, setCsrfCookie, setSessionCookies } from '../sessions/cookies'
import { checkCrossOrigin } from '../sessions/csrf'
import { csrfTokenFor, isTokenShape, newPreSessionToken, tokensMatch } from '../sessions/csrf-token'
import { safeReturnTo } from '../sessions/return-to'
import { createSession, endSessionByValue } from '../sessions/service'
import { readForm } from './form'

export const loginRoutes = new Hono<AppBindings>()

const GENERIC_FAILURE = 'The username or password is incorrect.'
const FORM_EXPIRED = 'This sign-in form has expired or was sent from another site. Please sign in again.'

/** The CSRF cookie's value when it is a single well-formed token, else undefined. */
function presentedCsrfCookie(c: Context<AppBindings>): string | undefined {
  const values = readCookieValues(c.req.header('cookie') ?? null, cookieNames(c.var.ctx.config.issuer).csrf)
  return values.length === 1 && isTokenShape(values[0]) ? values[0] : undefined
}

/** The token the form carries: the existing CSRF cookie, or a new pre-session one set now. */
function formToken(c: Context<AppBindings>): string {
  const existing = presentedCsrfCookie(c)
  if (existing) return existing
  const token = newPreSessionToken()
  setCsrfCookie(c, cookieNames(c.var.ctx.config.issuer), token)
  return token
}

function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`
  return `${Math.ceil(seconds / 60)} minutes`
}

export async function renderLogin(
  c: Context<AppBindings>,
  options: { returnTo: string; status?: PageStatus; error?: string; username?: string },
) {
  const { settings } = c.var.ctx.config
  const target = await loginReturnTarget(c.env.DB, options.returnTo)
  return renderPage(
    c,
    LoginPage({
      productName: settings.product_name,
      csrfToken: formToken(c),
      returnTo: options.returnTo,
      username: options.username,
      error: options.error,
      registration: settings.registration,
      providers: [...c.var.ctx.config.loginProviders.values()].map((provider) => ({
        name: provider.name,
        displayName: provider.display_name,
      })),
    }),
    options.status ?? 200,
    { formTargets: target ? [target] : [] },
  )
}

// OIDC `login_hint`, passed on by /auth/authorize: it only prefills the form (and is escaped).
const MAX_LOGIN_HINT = 256

loginRoutes.get('/auth/login', function showLogin(c) {
  const returnTo = safeReturnTo(c.req.query('return_to'), c.var.ctx.config.issuer)
  const hint = c.req.query('login_hint')
  const username = hint !== undefined && hint.length <= MAX_LOGIN_HINT ? hint : undefined
  return renderLogin(c, { returnTo, username })
})

loginRoutes.post('/auth/login', async function login(c) {
  const { config } = c.var.ctx
  const form = await readForm(c.req.raw)
  const returnTo = safeReturnTo(form.get('return_to'), config.issuer)
  const names = cookieNames(config.issuer)

  const cookieToken = presentedCsrfCookie(c)
  const tokenOk = cookieToken !== undefined && tokensMatch(form.get('csrf'), cookieToken)
  const origin = await checkCrossOrigin({
    method: 'POST',
    secFetchSite: c.req.header('sec-fetch-site') ?? null,
    origin: c.req.header('origin') ?? null,
    gatewayOrigin: config.issuer,
    trustedOrigins: config.settings.trusted_origins,
    hasValidToken: () => tokenOk,
  })
  if (!tokenOk || !origin.allow) return renderLogin(c, { returnTo, status: 403, error: FORM_EXPIRED })

  // Session fixation: whatever session this browser had ends before anyone signs in.
  for (const value of readCookieValues(c.req.header('cookie') ?? null, names.session))
    await endSessionByValue(c.env, value)

  const username = form.get('username') ?? ''
  let user: Awaited<ReturnType<typeof verifyLogin>>
  try {
    user = await verifyLogin(
      c.env,
      config.settings,
      {
        username,
        password: form.get('password') ?? '',
        ip: c.req.header('cf-connecting-ip'),
        audit: c.var.ctx.audit,
        via: 'form',
      },
      'invalid_credentials',
    )
  } catch (error) {
    if (!isGatewayError(error)) throw error
    if (error.code === 'invalid_credentials')
      return renderLogin(c, { returnTo, status: 401, error: GENERIC_FAILURE, username })
    if (error.code === 'rate_limited') {
      const wait = Math.max(1, Math.ceil(error.retryAfter ?? 60))
      c.header('retry-after', String(wait))
      return renderLogin(c, {
        returnTo,
        status: 429,
        error: `Too many sign-in attempts. Try again in ${waitText(wait)}.`,
        username,
      })
    }
    throw error
  }

  const persistent = form.get('remember') !== null
  const session = await createSession(c.env, config.settings, {
    user,
    persistent,
    userAgent: c.req.header('user-agent') ?? null,
    ip: c.req.header('cf-connecting-ip') ?? null,
    authMethod: 'password',
  })
  recordAuditEvent(c.var.ctx, {
    type: 'session_created',
    actorId: user.id,
    subjectId: user.id,
    details: { session_id: session.id, persistent },
  })
  setSessionCookies(
    c,
    names,
    session.value,
    await csrfTokenFor(session.value),
    persistent ? config.settings.session_lifetime_seconds : undefined,
  )
  c.header('cache-control', 'no-store')
  return c.redirect(returnTo, 303)
})
