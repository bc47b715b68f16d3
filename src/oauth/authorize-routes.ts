/**
 * GET /auth/authorize and the consent page's POST: the browser half of the authorization code
 * flow. The decisions (login, consent, code, error) are the authorize service's
 * (src/oauth/authorize.ts); this module reads the browser session, renders pages and redirects.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import type { AppBindings } from '../env'
import { readForm } from '../http/form'
import { ErrorPage } from '../pages/error-page'
import { htmlErrors } from '../pages/html-errors'
import { type PageStatus, renderPage } from '../pages/render'
import {
  type CurrentSession,
  csrfTokenFor,
  currentSessionOf,
  LOGIN_PATH,
  loginUrl,
  SECOND_FACTOR_PATH,
  signedInFormAllowed,
} from '../sessions'
import {
  type AuthorizeContext,
  type AuthorizeOutcome,
  type AuthorizingUser,
  answerConsent,
  authorize,
} from './authorize'
import { clientLookup } from './client-lookup'
import { isSelfRegistered } from './client-store'
import { ConsentPage } from './consent-page'

export const authorizeRoutes = new Hono<AppBindings>()

authorizeRoutes.use('/auth/authorize', htmlErrors())

/**
 * RFC 8176 `amr` of a session's sign-in for the code's tokens. `fed` (an external provider) is our
 * own marker, not a registered value: the provider's own methods are unknown, so it names none.
 */
function amrFor(session: CurrentSession): string[] {
  return session.amr.filter((value) => value !== 'fed')
}

function authorizingUser(session: CurrentSession): AuthorizingUser {
  return {
    userId: session.userId,
    authTime: session.authTime,
    roles: session.roles,
    browserSessionId: session.id,
    amr: amrFor(session),
  }
}

function serviceContext(c: Context<AppBindings>): AuthorizeContext {
  const { config, audit } = c.var.ctx
  return { db: c.env.DB, config, lookUp: clientLookup({ db: c.env.DB, kv: c.env.KV, config, audit }) }
}

function errorPage(c: Context<AppBindings>, title: string, message: string, status: PageStatus) {
  return renderPage(
    c,
    ErrorPage({
      productName: c.var.ctx.config.settings.product_name,
      title,
      message,
      requestId: c.var.ctx.requestId,
    }),
    status,
  )
}

/**
 * `authorization_granted` when the redirect carries a code, `authorization_denied` when it carries
 * an error (the user's Deny, or `login_required`/`consent_required`/... from `prompt=none`).
 */
function auditAuthorization(
  c: Context<AppBindings>,
  location: string,
  session: CurrentSession | undefined,
  clientId: string | undefined,
) {
  let params: URLSearchParams
  try {
    params = new URL(location).searchParams
  } catch {
    return
  }
  const userId = session?.userId
  const error = params.get('error')
  recordAuditEvent(c.var.ctx, {
    type: error === null ? 'authorization_granted' : 'authorization_denied',
    outcome: error === null ? 'success' : 'failure',
    actorId: userId,
    subjectId: userId,
    clientId,
    details: error === null ? {} : { error },
  })
}

async function respond(
  c: Context<AppBindings>,
  outcome: AuthorizeOutcome,
  session: CurrentSession | undefined,
  redirectStatus: 302 | 303,
  clientId: string | undefined,
) {
  c.header('cache-control', 'no-store')
  switch (outcome.kind) {
    case 'error_page':
      return errorPage(c, 'This sign-in link is not valid', outcome.description, 400)
    case 'redirect':
      auditAuthorization(c, outcome.location, session, clientId)
      return c.redirect(outcome.location, redirectStatus)
    case 'login': {
      const query = new URLSearchParams({ return_to: outcome.returnTo })
      if (outcome.loginHint) query.set('login_hint', outcome.loginHint)
      return c.redirect(`${LOGIN_PATH}?${query}`, redirectStatus)
    }
    case 'step_up':
      return c.redirect(
        `${SECOND_FACTOR_PATH}?${new URLSearchParams({ return_to: outcome.returnTo })}`,
        redirectStatus,
      )
    case 'consent': {
      // authorize() asks for consent only for a signed-in user; without one, fail closed.
      if (!session) return errorPage(c, 'Sign in first', 'Sign in and try again.', 400)
      const { request } = outcome
      const query = new URL(c.req.url).search.slice(1)
      return renderPage(
        c,
        ConsentPage({
          productName: c.var.ctx.config.settings.product_name,
          clientName: request.client.name || request.client.clientId,
          clientId: request.client.clientId,
          redirectUri: request.redirectUri,
          selfRegistered: isSelfRegistered(request.client),
          documentHost: request.client.metadataDocument?.host,
          username: session.username,
          scopes: outcome.scopes,
          roles: outcome.roles,
          csrfToken: await csrfTokenFor(session.value),
          authorizationQuery: query,
          switchAccountHref: loginUrl(`/auth/authorize?${query}`),
        }),
        200,
        { formTargets: [request.redirectUri] },
      )
    }
  }
}

authorizeRoutes.get('/auth/authorize', async function authorizeRequest(c) {
  const session = await currentSessionOf(c)
  const url = new URL(c.req.url)
  const outcome = await authorize(
    serviceContext(c),
    url.searchParams,
    `${url.pathname}${url.search}`,
    session ? authorizingUser(session) : undefined,
  )
  return respond(c, outcome, session, 302, url.searchParams.get('client_id') ?? undefined)
})

const FORM_EXPIRED =
  'This consent form has expired or was sent from another site. Go back to the app and try again.'

authorizeRoutes.post('/auth/authorize', async function consentDecision(c) {
  const form = await readForm(c.req.raw)
  const session = await currentSessionOf(c)
  const allowed =
    session !== undefined &&
    (await signedInFormAllowed({
      request: c.req.raw,
      config: c.var.ctx.config,
      sessionValue: session.value,
      field: form.get('csrf'),
    }))
  if (!session || !allowed) return errorPage(c, 'Request refused', FORM_EXPIRED, 403)
  const decision = form.get('decision')
  if (decision !== 'allow' && decision !== 'deny')
    return errorPage(c, 'Request refused', 'Choose Allow or Deny.', 400)
  const params = new URLSearchParams(form.get('authorization_query') ?? '')
  const outcome = await answerConsent(
    serviceContext(c),
    params,
    authorizingUser(session),
    decision === 'allow',
  )
  if (decision === 'allow' && outcome.kind === 'redirect' && !outcome.location.includes('error='))
    recordAuditEvent(c.var.ctx, {
      type: 'consent_granted',
      actorId: session.userId,
      subjectId: session.userId,
      clientId: params.get('client_id') ?? undefined,
      details: { scope: (params.get('scope') ?? '').slice(0, 256) },
    })
  return respond(c, outcome, session, 303, params.get('client_id') ?? undefined)
})
