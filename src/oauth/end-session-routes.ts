/**
 * GET/POST /auth/end-session: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). The
 * request is validated first (src/oauth/end-session.ts: our ID token as hint, a registered
 * post_logout_redirect_uri), so an invalid one never redirects. The browser session ends at once
 * only when the hint names its user; otherwise (no hint, someone else's hint) the user is asked
 * on a page whose button is a CSRF-protected POST, so a link or image on another site cannot sign
 * people out with a GET.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { readForm } from '../http/form'
import { ErrorPage } from '../pages/error-page'
import { htmlErrors } from '../pages/html-errors'
import { type PageStatus, renderPage } from '../pages/render'
import {
  type CurrentSession,
  csrfTokenFor,
  currentSessionOf,
  endSessionByValue,
  LOGIN_PATH,
  signedInFormAllowed,
  signedOut,
} from '../sessions'
import { loadKeyRing } from '../tokens'
import { type EndSessionValidation, validateEndSessionRequest } from './end-session'
import { EndSessionPage } from './end-session-page'

export const endSessionRoutes = new Hono<AppBindings>()

endSessionRoutes.use('/auth/end-session', htmlErrors())

async function validate(c: Context<AppBindings>, params: URLSearchParams): Promise<EndSessionValidation> {
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  return validateEndSessionRequest(c.env.DB, ring, c.var.ctx.config.issuer, params)
}

function errorPage(c: Context<AppBindings>, message: string, status: PageStatus) {
  return renderPage(
    c,
    ErrorPage({
      productName: c.var.ctx.config.settings.product_name,
      title: 'Sign-out request refused',
      message,
      requestId: c.var.ctx.requestId,
    }),
    status,
  )
}

/** Ends the session (if any), clears the cookies, and goes to the app's page or the login page. */
async function finish(
  c: Context<AppBindings>,
  session: CurrentSession | undefined,
  validation: Extract<EndSessionValidation, { ok: true }>,
) {
  if (session) await endSessionByValue(c.env, session.value)
  return signedOut(c, validation.redirect ?? LOGIN_PATH)
}

endSessionRoutes.get('/auth/end-session', async function endSessionRequest(c) {
  const params = new URL(c.req.url).searchParams
  const validation = await validate(c, params)
  if (!validation.ok) return errorPage(c, validation.description, 400)
  const session = await currentSessionOf(c)
  if (!session || (validation.userId !== undefined && validation.userId === session.userId))
    return finish(c, session, validation)
  // Confirmation: the form re-posts what was validated, without a hint that is not this user's.
  const fields: Record<string, string> = {}
  if (validation.clientId !== undefined) fields.client_id = validation.clientId
  for (const name of ['post_logout_redirect_uri', 'state']) {
    const value = params.get(name)
    if (value !== null) fields[name] = value
  }
  return renderPage(
    c,
    EndSessionPage({
      productName: c.var.ctx.config.settings.product_name,
      username: session.username,
      csrfToken: await csrfTokenFor(session.value),
      fields,
    }),
    200,
    { formTargets: validation.redirect ? [validation.redirect] : [] },
  )
})

endSessionRoutes.post('/auth/end-session', async function confirmEndSession(c) {
  const form = await readForm(c.req.raw)
  const session = await currentSessionOf(c)
  if (
    session &&
    !(await signedInFormAllowed({
      request: c.req.raw,
      config: c.var.ctx.config,
      sessionValue: session.value,
      field: form.get('csrf'),
    }))
  ) {
    return errorPage(c, 'This sign-out form has expired or was sent from another site.', 403)
  }
  form.delete('csrf')
  const validation = await validate(c, form)
  if (!validation.ok) return errorPage(c, validation.description, 400)
  return finish(c, session, validation)
})
