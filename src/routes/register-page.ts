/**
 * The browser face of registration: GET /auth/register shows the form, and a form POST from a
 * browser (Accept: text/html) gets a redirect to the login page on success or the form again with
 * the reason on failure. The account itself is created by POST /auth/register in account.ts,
 * unchanged for API clients.
 */
import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { RegisterPage } from '../pages/register-page'
import { pageResponse, renderPage } from '../pages/render'
import { wantsHtml } from './pages'

export const registerPageRoutes = new Hono<AppBindings>()

registerPageRoutes.get('/auth/register', function showRegister(c) {
  const { settings } = c.var.ctx.config
  if (!settings.registration) throw new GatewayError('not_found', 'Registration is turned off.')
  return renderPage(c, RegisterPage({ productName: settings.product_name }))
})

registerPageRoutes.post('/auth/register', async function registerFromBrowser(c, next) {
  const isForm = (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')
  if (!isForm || !wantsHtml(c.req.raw)) return next()
  const username = new URLSearchParams(await c.req.raw.clone().text()).get('username') ?? ''
  await next()
  if (c.res.status === 201) {
    c.res = new Response(null, { status: 303, headers: { location: '/auth/login' } })
    return
  }
  let description = 'The account could not be created.'
  try {
    const body = (await c.res.clone().json()) as { error_description?: unknown }
    if (typeof body.error_description === 'string') description = body.error_description
  } catch {
    // keep the generic text
  }
  const status = ([400, 403, 409, 429] as const).find((code) => code === c.res.status) ?? 400
  const productName = c.var.ctx.config.settings.product_name
  c.res = await pageResponse(RegisterPage({ productName, username, error: description }), status)
})
