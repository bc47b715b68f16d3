/**
 * Logout and session management for browsers: POST /auth/logout with the session cookie (the
 * bearer version in accounts/routes.ts answers when an Authorization header is sent; logout-all is there
 * too and takes either credential),
 * GET /auth/sessions, DELETE /auth/sessions/{id}, and POST /auth/sessions/{id}/end, the same as
 * DELETE for the HTML page's forms (HTML forms can only GET and POST).
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, requireFirstParty } from '../authn'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { htmlErrors, wantsHtml } from '../pages/html-errors'
import { renderPage } from '../pages/render'
import { clearSessionCookies, cookieNames } from './cookies'
import { readSessionCookie } from './credential'
import { assertSessionRequestAllowed } from './csrf-guard'
import { LOGIN_PATH } from './navigation'
import { safeReturnTo } from './return-to'
import { endSessionById, endSessionByValue, listSessions } from './service'
import { SessionsPage, type SessionView } from './sessions-page'
import { signedOut } from './sign-out'

export const sessionRoutes = new Hono<AppBindings>()

sessionRoutes.use('/auth/sessions', htmlErrors())
sessionRoutes.use('/auth/sessions/*', htmlErrors())

/** Whether the request carries an Authorization header (then the bearer handlers answer). */
function hasAuthorization(c: Context<AppBindings>): boolean {
  return c.req.header('authorization') !== undefined
}

// Logout with the cookie works even when the session already ended (the cookie is cleared all the
// same), so it does not go through `authenticate`; the CSRF guard runs first all the same.
sessionRoutes.post('/auth/logout', async function logoutBrowser(c, next) {
  if (hasAuthorization(c)) return next()
  const { config } = c.var.ctx
  const value = readSessionCookie(c.req.raw, config.issuer)
  // No credential at all: an API client gets the bearer endpoint's 401, a browser the login page.
  if (value === undefined && !wantsHtml(c.req.raw)) return next()
  await assertSessionRequestAllowed({ request: c.req.raw, config })
  const ended = value === undefined ? undefined : await endSessionByValue(c.env, value)
  if (ended) {
    const event = { actorId: ended.user_id, subjectId: ended.user_id, details: { session_id: ended.id } }
    recordAuditEvent(c.var.ctx, { type: 'logout', ...event, details: { method: 'session' } })
    recordAuditEvent(c.var.ctx, { type: 'session_ended', ...event })
  }
  const requested = c.req.query('return_to')
  return signedOut(c, requested === undefined ? LOGIN_PATH : safeReturnTo(requested, config.issuer))
})

const listAuth = [authenticate({ credentials: ['jwt', 'session'] }), requireFirstParty] as const

sessionRoutes.get('/auth/sessions', ...listAuth, async function showSessions(c) {
  const principal = currentPrincipal(c)
  const rows = await listSessions(c.env, c.var.ctx.config.settings, principal.id)
  const sessions: SessionView[] = rows.map((row) => ({
    ...row,
    current: row.id === principal.browserSession?.id,
  }))
  if (!wantsHtml(c.req.raw)) return c.json({ items: sessions }, 200, { 'cache-control': 'no-store' })
  return renderPage(
    c,
    SessionsPage({
      productName: c.var.ctx.config.settings.product_name,
      username: principal.username,
      sessions,
    }),
  )
})

async function endOne(c: Context<AppBindings>): Promise<{ current: boolean }> {
  const principal = currentPrincipal(c)
  const id = c.req.param('id') ?? ''
  if (!(await endSessionById(c.env, principal.id, id)))
    throw new GatewayError('not_found', 'No such session.')
  recordAuditEvent(c.var.ctx, {
    type: 'session_ended',
    actorId: principal.id,
    subjectId: principal.id,
    details: { session_id: id },
  })
  return { current: id === principal.browserSession?.id }
}

sessionRoutes.delete('/auth/sessions/:id', ...listAuth, async function endSession(c) {
  const { current } = await endOne(c)
  if (current) clearSessionCookies(c, cookieNames(c.var.ctx.config.issuer))
  return c.body(null, 204)
})

sessionRoutes.post('/auth/sessions/:id/end', ...listAuth, async function endSessionFromForm(c) {
  const { current } = await endOne(c)
  if (current) return signedOut(c)
  c.header('cache-control', 'no-store')
  return c.redirect('/auth/sessions', 303)
})
