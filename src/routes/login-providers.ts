/**
 * Sign in with an external provider (CONTRACT.md "External login providers"):
 *   GET /auth/login/{provider}[?return_to=…]   → 302 to the provider (state, PKCE S256, nonce)
 *   GET /auth/login/{provider}?link=1          → the same, to link the provider to the signed-in user
 *   GET /auth/callback/{provider}              → session cookie and 303 to return_to
 * Every failure ends on the login page with a clear message and a new attempt one click away;
 * nothing is stored before the provider has vouched for the user, and a new user and its identity
 * are written together or not at all.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { linkExternalIdentity, resolveExternalUser } from '../accounts/external-sign-in'
import { recordAuditEvent } from '../audit/record'
import { readSessionCookie } from '../authn/session'
import type { LoginProviderConfig } from '../config/login-providers'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { logEvent } from '../errors/render'
import { authorizationRequest } from '../login-providers/authorize'
import { completeAtProvider } from '../login-providers/callback'
import { failureMessage, failureStatus, ProviderLoginFailure } from '../login-providers/failure'
import { ensureFlowCookie, saveFlow, takeFlow } from '../login-providers/flow-state'
import { clientSecret, providerClient } from '../login-providers/metadata'
import { checkAllowed } from '../login-providers/policy'
import { cookieNames, readCookieValues, setSessionCookies } from '../sessions/cookies'
import { csrfTokenFor } from '../sessions/csrf-token'
import { safeReturnTo } from '../sessions/return-to'
import { createSession, endSessionByValue, resolveSession } from '../sessions/service'
import { renderLogin } from './login'

export const providerLoginRoutes = new Hono<AppBindings>()

export const IDENTITIES_PATH = '/auth/identities'

function findProvider(c: Context<AppBindings>): LoginProviderConfig {
  const provider = c.var.ctx.config.loginProviders.get(c.req.param('provider') ?? '')
  if (!provider) throw new ProviderLoginFailure('unknown_provider', 'no such provider')
  return provider
}

/** The signed-in user of this browser (checked against D1), or undefined. */
async function signedInUser(c: Context<AppBindings>): Promise<string | undefined> {
  const value = readSessionCookie(c.req.raw, c.var.ctx.config.issuer)
  if (value === undefined) return undefined
  const result = await resolveSession(c.env, c.var.ctx.config.settings, value, {
    strict: true,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  })
  return 'record' in result ? result.record.userId : undefined
}

/**
 * Linking is started only from our own pages (or a URL the user typed): a cross-site page must
 * not be able to start it in a signed-in browser. Browsers without Fetch Metadata cannot link.
 */
function startedHere(c: Context<AppBindings>): boolean {
  const site = c.req.header('sec-fetch-site')?.trim().toLowerCase()
  return site === 'same-origin' || site === 'none'
}

/** Renders a failure on the login page (and logs why); other errors go to the error handler. */
function failed(c: Context<AppBindings>, error: unknown, provider: string, returnTo: string) {
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
  return renderLogin(c, {
    returnTo,
    status: failureStatus(failure.reason),
    error: failureMessage(failure.reason, display),
  })
}

providerLoginRoutes.get('/auth/login/:provider', async function startProviderLogin(c) {
  const { config } = c.var.ctx
  const returnTo = safeReturnTo(c.req.query('return_to'), config.issuer)
  const name = c.req.param('provider')
  try {
    const provider = findProvider(c)
    let linkUserId: string | null = null
    if (c.req.query('link') !== undefined) {
      linkUserId = (startedHere(c) ? await signedInUser(c) : undefined) ?? null
      if (!linkUserId)
        throw new ProviderLoginFailure('link_needs_session', 'link without a session or cross-site')
    }
    const pc = await providerClient(provider, clientSecret(c.env, provider))
    const request = await authorizationRequest(provider, pc, config.issuer)
    await saveFlow(c.env.DB, {
      state: request.state,
      provider: provider.name,
      browserValue: ensureFlowCookie(c, config.issuer),
      codeVerifier: request.codeVerifier,
      nonce: request.nonce,
      returnTo: linkUserId ? IDENTITIES_PATH : returnTo,
      linkUserId,
    })
    c.header('cache-control', 'no-store')
    c.header('referrer-policy', 'no-referrer')
    return c.redirect(request.url.href, 302)
  } catch (error) {
    return failed(c, error, name, returnTo)
  }
})

providerLoginRoutes.get('/auth/callback/:provider', async function finishProviderLogin(c) {
  const { config } = c.var.ctx
  const name = c.req.param('provider')
  let returnTo = '/'
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
    const names = cookieNames(config.issuer)
    // Session fixation: whatever session this browser had ends before the new one starts.
    for (const value of readCookieValues(c.req.header('cookie') ?? null, names.session))
      await endSessionByValue(c.env, value)
    const session = await createSession(c.env, config.settings, {
      user: target.user,
      persistent: false,
      userAgent: c.req.header('user-agent') ?? null,
      ip: c.req.header('cf-connecting-ip') ?? null,
      authMethod: `provider:${provider.name}`,
    })
    setSessionCookies(c, names, session.value, await csrfTokenFor(session.value))
    const userId = target.user.id
    if (target.created)
      recordAuditEvent(c.var.ctx, {
        type: 'user_created',
        actorId: userId,
        subjectId: userId,
        details: { provider: provider.name },
      })
    if (target.linked)
      recordAuditEvent(c.var.ctx, {
        type: 'identity_linked',
        actorId: userId,
        subjectId: userId,
        details: { provider: provider.name, how: target.created ? 'first_sign_in' : 'verified_email' },
      })
    recordAuditEvent(c.var.ctx, {
      type: 'login_succeeded',
      actorId: userId,
      subjectId: userId,
      details: { method: `provider:${provider.name}` },
    })
    recordAuditEvent(c.var.ctx, {
      type: 'session_created',
      actorId: userId,
      subjectId: userId,
      details: { session_id: session.id, persistent: false, provider: provider.name },
    })
    logEvent('info', 'provider_login', {
      request_id: c.var.ctx.requestId,
      provider: provider.name,
      user_id: target.user.id,
      created: target.created,
    })
    c.header('cache-control', 'no-store')
    return c.redirect(returnTo, 303)
  } catch (error) {
    return failed(c, error, name, returnTo)
  }
})
