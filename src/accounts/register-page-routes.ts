/**
 * The browser face of registration: GET /auth/register shows the form, and a form POST from a
 * browser (Accept: text/html) gets a redirect to the login page on success or the form again with
 * the reason on failure. API clients (JSON, or a form without Accept: text/html) go on to
 * POST /auth/register in routes.ts; both create the account with the same functions from there.
 */
import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { GatewayError, isGatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { wantsHtml } from '../pages/html-errors'
import { renderPage } from '../pages/render'
import { RegisterPage } from './register-page'
import { admitRegistration, createAccount } from './routes'

export const registerPageRoutes = new Hono<AppBindings>()

/** Failures the form explains; anything else (413, 5xx) goes to the error handler as it is. */
const FORM_STATUSES = [400, 403, 409, 429] as const

registerPageRoutes.get('/auth/register', function showRegister(c) {
  const { settings } = c.var.ctx.config
  if (!settings.registration) throw new GatewayError('not_found', 'Registration is turned off.')
  return renderPage(
    c,
    RegisterPage({
      productName: settings.product_name,
      emailRequired: settings.email.required_at_registration,
    }),
  )
})

registerPageRoutes.post('/auth/register', async function registerFromBrowser(c, next) {
  const isForm = (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')
  if (!isForm || !wantsHtml(c.req.raw)) return next()
  let username = ''
  try {
    await admitRegistration(c)
    // The one read of the body, through the capped reader: an oversized form is refused (413)
    // after at most MAX_FORM_BYTES and one chunk, never read to its end.
    const fields = await readFields(c.req.raw)
    if (typeof fields.username === 'string') username = fields.username
    await createAccount(c, fields)
  } catch (error) {
    const status = isGatewayError(error) ? FORM_STATUSES.find((code) => code === error.status) : undefined
    if (!isGatewayError(error) || status === undefined) throw error
    if (error.retryAfter !== undefined)
      c.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))))
    const productName = c.var.ctx.config.settings.product_name
    const emailRequired = c.var.ctx.config.settings.email.required_at_registration
    return renderPage(c, RegisterPage({ productName, username, emailRequired, error: error.message }), status)
  }
  return c.redirect('/auth/login', 303)
})
