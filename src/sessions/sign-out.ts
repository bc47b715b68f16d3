import type { Context } from 'hono'
import type { AppBindings } from '../env'
import { clearSessionCookies, cookieNames } from './cookies'
import { LOGIN_PATH } from './navigation'

/** Clears the browser's cookies and sends it to the login page (or a validated return_to). */
export function signedOut(c: Context<AppBindings>, returnTo = LOGIN_PATH): Response {
  clearSessionCookies(c, cookieNames(c.var.ctx.config.issuer))
  c.header('cache-control', 'no-store')
  return c.redirect(returnTo, 303)
}
