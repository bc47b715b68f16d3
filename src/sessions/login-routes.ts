/**
 * GET/POST /auth/login: the browser login form and the session it creates.
 * Login CSRF: the form carries a token that must equal the pre-session CSRF cookie, and the
 * POST must also pass the same-origin check, so another site cannot sign a victim into the
 * attacker's account. Session fixation: a cookie presented to the form is ended first, and every
 * login makes a new session with a new cookie value.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { clientLookup, loginFormTargets } from '../oauth'
import type { PageStatus } from '../pages/render'
import { verifyLogin } from '../users'
import { loginFormAllowed } from './csrf-guard'
import { knownDevice, rememberDevice } from './device-cookie'
import { presentedCsrfCookie, renderLoginPage } from './login-form'
import { safeReturnTo } from './return-to'
import { signIn } from './sign-in'

export const loginRoutes = new Hono<AppBindings>()

const GENERIC_FAILURE = 'The username or password is incorrect.'
const FORM_EXPIRED = 'This sign-in form has expired or was sent from another site. Please sign in again.'

function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`
  return `${Math.ceil(seconds / 60)} minutes`
}

/** The login page; its form may end at the client an authorization request names. */
async function renderLogin(
  c: Context<AppBindings>,
  options: { returnTo: string; status?: PageStatus; error?: string; username?: string },
): Promise<Response> {
  const { config, audit } = c.var.ctx
  const lookUp = clientLookup({ db: c.env.DB, kv: c.env.KV, config, audit })
  return renderLoginPage(c, {
    ...options,
    formTargets: await loginFormTargets(c.env.DB, options.returnTo, lookUp),
  })
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

  const allowed = await loginFormAllowed({
    request: c.req.raw,
    config,
    cookieToken: presentedCsrfCookie(c),
    field: form.get('csrf'),
  })
  if (!allowed) return renderLogin(c, { returnTo, status: 403, error: FORM_EXPIRED })

  const username = form.get('username') ?? ''
  const device = await knownDevice(c, username)
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
        device,
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

  // The password was right: this browser is now a known device of the user (even if a second
  // factor is still owed), so floods against the account do not keep it out next time.
  await rememberDevice(c, user.username, device)
  return signIn(c, {
    user,
    amr: ['pwd'],
    authMethod: 'password',
    persistent: form.get('remember') !== null,
    returnTo,
  })
})
