/**
 * Sign in with an external provider (CONTRACT.md "External login providers"):
 *   GET  /auth/login/{provider}[?return_to=…]  → 302 to the provider (state, PKCE S256, nonce)
 *   POST /auth/login/{provider}/link           → 303 to the provider, to link it to the signed-in
 *                                                user (the account page's form, with its CSRF token)
 *   GET  /auth/callback/{provider}             → session cookie and 303 to return_to
 * Every failure ends on the login page with a clear message and a new attempt one click away;
 * nothing is stored before the provider has vouched for the user, and a new user and its identity
 * are written together or not at all.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import type { LoginProviderConfig } from '../config/login-providers'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { logEvent } from '../log'
import { clientLookup, loginFormTargets } from '../oauth'
import {
  DEFAULT_LANDING_PATH,
  readSessionCookie,
  renderLoginPage,
  resolveSession,
  safeReturnTo,
  signedInFormAllowed,
  signIn,
} from '../sessions'
import { authorizationRequest } from './authorize'
import { completeAtProvider } from './callback'
import { linkExternalIdentity, resolveExternalUser } from './external-sign-in'
import { failureMessage, failureStatus, ProviderLoginFailure } from './failure'
import { ensureFlowCookie, saveFlow, takeFlow } from './flow-state'
import { clientSecret, providerClient } from './metadata'
import { checkAllowed } from './policy'

export const providerLoginRoutes = new Hono<AppBindings>()

export const IDENTITIES_PATH = '/auth/identities'

function findProvider(c: Context<AppBindings>): LoginProviderConfig {
  const provider = c.var.ctx.config.loginProviders.get(c.req.param('provider') ?? '')
  if (!provider) throw new ProviderLoginFailure('unknown_provider', 'no such provider')
  return provider
}

/** The user of a session cookie value (checked against D1), or undefined. */
async function sessionUser(c: Context<AppBindings>, value: string): Promise<string | undefined> {
  const result = await resolveSession(c.env, c.var.ctx.config.settings, value, {
    strict: true,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  })
  return 'record' in result ? result.record.userId : undefined
}

/** The signed-in user of this browser (checked against D1), or undefined. */
async function signedInUser(c: Context<AppBindings>): Promise<string | undefined> {
  const value = readSessionCookie(c.req.raw, c.var.ctx.config.issuer)
  return value === undefined ? undefined : sessionUser(c, value)
}

/**
 * The user a link form speaks for: a live session, and the form's `csrf` field equal to that
 * session's token on a same-origin request (sessions/csrf-guard.ts). Same-origin alone is not enough: our
 * own login form's POST answers with a redirect to its `return_to`, so a crafted login link could
 * make a signed-in browser reach any same-origin GET.
 */
async function linkingUser(c: Context<AppBindings>, field: string | null): Promise<string | undefined> {
  const { config } = c.var.ctx
  const value = readSessionCookie(c.req.raw, config.issuer)
  if (value === undefined) return undefined
  const allowed = await signedInFormAllowed({ request: c.req.raw, config, sessionValue: value, field })
  return allowed ? sessionUser(c, value) : undefined
}

/** Saves the flow and sends the browser to the provider's authorization endpoint. */
async function redirectToProvider(
  c: Context<AppBindings>,
  provider: LoginProviderConfig,
  flow: { returnTo: string; linkUserId: string | null },
  status: 302 | 303,
): Promise<Response> {
  const { config } = c.var.ctx
  const pc = await providerClient(provider, clientSecret(c.env, provider))
  const request = await authorizationRequest(provider, pc, config.issuer)
  await saveFlow(c.env.DB, {
    state: request.state,
    provider: provider.name,
    browserValue: ensureFlowCookie(c, config.issuer),
    codeVerifier: request.codeVerifier,
    nonce: request.nonce,
    ...flow,
  })
  c.header('cache-control', 'no-store')
  c.header('referrer-policy', 'no-referrer')
  return c.redirect(request.url.href, status)
}

/** Renders a failure on the login page (and logs why); other errors go to the error handler. */
async function failed(c: Context<AppBindings>, error: unknown, provider: string, returnTo: string) {
  if (isGatewayError(error)) throw error
  // A bug here must still end on the login page (never a 500), and be logged as an error.
  const unexpected = !(error instanceof ProviderLoginFailure)
  const failure = unexpected ? new ProviderLoginFailure('provider_error', 'unexpected error', error) : error
  const cause = failure.cause instanceof Error ? `${failure.cause.name}: ${failure.cause.message}` : undefined
  // oauth4webapi's messages name the failed check, never a token; their `cause` (bodies) is not logged.
  logEvent(unexpected ? 'error' : 'warn', 'provider_login_failed', {
    request_id: c.var.ctx.requestId,
    provider: provider.slice(0, 64),
    reason: failure.reason,
    detail: failure.message,
    ...(cause ? { cause: cause.slice(0, 300) } : {}),
  })
  const display = c.var.ctx.config.loginProviders.get(provider)?.display_name ?? 'the provider'
  return renderLoginPage(c, {
    returnTo,
    status: failureStatus(failure.reason),
    error: failureMessage(failure.reason, display),
    formTargets: await loginFormTargets(
      c.env.DB,
      returnTo,
      clientLookup({ db: c.env.DB, kv: c.env.KV, config: c.var.ctx.config, audit: c.var.ctx.audit }),
    ),
  })
}

providerLoginRoutes.get('/auth/login/:provider', async function startProviderLogin(c) {
  const returnTo = safeReturnTo(c.req.query('return_to'), c.var.ctx.config.issuer)
  const name = c.req.param('provider')
  try {
    const provider = findProvider(c)
    // Anyone can make a signed-in browser send a GET (a login form's return_to, a link, an image):
    // a GET never links, and the old `?link=1` is refused rather than quietly made a sign-in.
    if (c.req.query('link') !== undefined)
      throw new ProviderLoginFailure('link_needs_session', 'link asked by GET, not by the account page form')
    return await redirectToProvider(c, provider, { returnTo, linkUserId: null }, 302)
  } catch (error) {
    return failed(c, error, name, returnTo)
  }
})

providerLoginRoutes.post('/auth/login/:provider/link', async function startProviderLink(c) {
  const name = c.req.param('provider')
  try {
    const provider = findProvider(c)
    const form = await readForm(c.req.raw)
    const linkUserId = await linkingUser(c, form.get('csrf'))
    if (!linkUserId)
      throw new ProviderLoginFailure('link_needs_session', 'link without a live session or its form token')
    return await redirectToProvider(c, provider, { returnTo: IDENTITIES_PATH, linkUserId }, 303)
  } catch (error) {
    return failed(c, error, name, IDENTITIES_PATH)
  }
})

providerLoginRoutes.get('/auth/callback/:provider', async function finishProviderLogin(c) {
  const { config } = c.var.ctx
  const name = c.req.param('provider')
  let returnTo = DEFAULT_LANDING_PATH
  try {
    const provider = findProvider(c)
    const state = c.req.query('state')
    const flow = await takeFlow(c, c.env.DB, config.issuer, provider.name, state)
    returnTo = flow.return_to
    const pc = await providerClient(provider, clientSecret(c.env, provider))
    const query = new URL(c.req.url).searchParams
    const profile = await completeAtProvider(provider, pc, config.issuer, query, flow, state as string)
    const allowed = checkAllowed(provider, profile)
    if (!allowed.allow) throw new ProviderLoginFailure('not_allowed', allowed.why)

    if (flow.link_user_id) {
      // Still the same signed-in user as when the link was started, or nothing is linked.
      if ((await signedInUser(c)) !== flow.link_user_id)
        throw new ProviderLoginFailure('link_needs_session', 'session ended or changed during linking')
      await linkExternalIdentity(c.env.DB, provider, profile, flow.link_user_id)
      recordAuditEvent(c.var.ctx, {
        type: 'identity_linked',
        actorId: flow.link_user_id,
        subjectId: flow.link_user_id,
        details: { provider: provider.name, how: 'explicit' },
      })
      c.header('cache-control', 'no-store')
      return c.redirect(IDENTITIES_PATH, 303)
    }

    const target = await resolveExternalUser(c.env.DB, provider, profile, config.settings.default_roles)
    const userId = target.user.id
    if (target.created) {
      recordAuditEvent(c.var.ctx, {
        type: 'user_created',
        actorId: userId,
        subjectId: userId,
        details: { provider: provider.name },
      })
      recordAuditEvent(c.var.ctx, {
        type: 'identity_linked',
        actorId: userId,
        subjectId: userId,
        details: { provider: provider.name, how: 'first_sign_in' },
      })
    }
    if (target.joinedByEmail)
      recordAuditEvent(c.var.ctx, {
        type: 'identity_linked',
        actorId: userId,
        subjectId: userId,
        details: { provider: provider.name, how: 'verified_email' },
      })
    recordAuditEvent(c.var.ctx, {
      type: 'login_succeeded',
      actorId: userId,
      subjectId: userId,
      details: { method: `provider:${provider.name}` },
    })
    logEvent('info', 'provider_login', {
      request_id: c.var.ctx.requestId,
      provider: provider.name,
      user_id: target.user.id,
      created: target.created,
    })
    return await signIn(c, {
      user: target.user,
      amr: ['fed'],
      authMethod: `provider:${provider.name}`,
      persistent: false,
      returnTo,
      details: { provider: provider.name },
    })
  } catch (error) {
    return failed(c, error, name, returnTo)
  }
})
