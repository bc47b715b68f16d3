/**
 * The login page with its form's CSRF token: the one place it is rendered, by /auth/login and by a
 * provider sign-in that failed (login-providers/routes.ts).
 */
import type { Context } from 'hono'
import { relyingPartyFor } from '../config/relying-party'
import type { AppBindings } from '../env'
import { passkeyScriptHash } from '../pages/passkey-script'
import { type PageStatus, renderPage } from '../pages/render'
import { cookieNames, readCookieValues, setCsrfCookie } from './cookies'
import { isTokenShape, newPreSessionToken } from './csrf-token'
import { LoginPage } from './login-page'

export interface LoginPageOptions {
  returnTo: string
  status?: PageStatus
  error?: string
  username?: string
  /**
   * Where the form may end up besides the gateway (CSP `form-action`): the client of an
   * authorization request in `returnTo` (oauth/login-return.ts), which the caller looks up.
   */
  formTargets: string[]
}

/** The CSRF cookie's value when it is a single well-formed token, else undefined. */
export function presentedCsrfCookie(c: Context<AppBindings>): string | undefined {
  const values = readCookieValues(c.req.header('cookie') ?? null, cookieNames(c.var.ctx.config.issuer).csrf)
  return values.length === 1 && isTokenShape(values[0]) ? values[0] : undefined
}

/**
 * The token a pre-session form carries (login, forgot and reset password): the existing CSRF cookie,
 * or a new pre-session one set now. `loginFormAllowed` checks the POST against it.
 */
export function preSessionFormToken(c: Context<AppBindings>): string {
  const existing = presentedCsrfCookie(c)
  if (existing) return existing
  const token = newPreSessionToken()
  setCsrfCookie(c, cookieNames(c.var.ctx.config.issuer), token)
  return token
}

export async function renderLoginPage(c: Context<AppBindings>, options: LoginPageOptions): Promise<Response> {
  const { settings, issuer } = c.var.ctx.config
  const passkeys = relyingPartyFor(issuer) !== undefined
  return renderPage(
    c,
    LoginPage({
      productName: settings.product_name,
      csrfToken: preSessionFormToken(c),
      returnTo: options.returnTo,
      username: options.username,
      error: options.error,
      registration: settings.registration,
      providers: [...c.var.ctx.config.loginProviders.values()].map((provider) => ({
        name: provider.name,
        displayName: provider.display_name,
      })),
      passkeys,
      emailSignIn: { link: settings.email.sign_in_link, code: settings.email.sign_in_code },
    }),
    options.status ?? 200,
    { formTargets: options.formTargets, scriptHashes: passkeys ? [await passkeyScriptHash()] : [] },
  )
}
