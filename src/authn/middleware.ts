import type { MiddlewareHandler } from 'hono'
import { delegatedTokenRefused, recordAuditEvent } from '../audit'
import { checkAuthentication, decide } from '../authz/policy'
import type { Principal } from '../authz/principal'
import { stepUpError } from '../authz/step-up'
import { CREDENTIAL_KINDS, type CredentialKind } from '../config/schema'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { loginRedirectFor } from '../sessions'
import { loadPrincipal } from './authenticate'

/**
 * What `authenticate` accepts. Every field is optional: by default our access tokens and API keys
 * in `X-API-Key`, revocation read from the KV edge copy.
 *
 * @example
 * ```ts
 * const options: AuthenticateOptions = { credentials: ['jwt', 'session'], revocation: 'strict' }
 * app.use('/account/*', authenticate(options))
 * ```
 */
export interface AuthenticateOptions {
  /** Credential kinds accepted, in precedence order. Default: our JWTs and API keys. */
  credentials?: readonly CredentialKind[]
  /** `strict` checks revocation against D1 on every request instead of KV. */
  revocation?: 'default' | 'strict'
  apiKeySources?: readonly ('header' | 'query' | 'cookie')[]
  issuers?: readonly string[]
}

/**
 * Hono middleware: loads the caller's principal (401 without a valid credential) and stores it
 * for `requireRole`, `requireScopes` and handlers (`c.var.ctx.principal`). Options are checked
 * once, when the middleware is built: an unknown credential kind throws then, not per request.
 *
 * @example
 * ```ts
 * app.get('/reports', authenticate(), (c) => c.json({ owner: currentPrincipal(c).username }))
 * // Only our access tokens, revocation read from D1 (the truth) rather than the KV edge copy:
 * app.delete('/reports/:id', authenticate({ credentials: ['jwt'], revocation: 'strict' }), handler)
 * ```
 */
export function authenticate(options: AuthenticateOptions = {}): MiddlewareHandler<AppBindings> {
  const credentials = [...(options.credentials ?? ['jwt', 'api_key'])]
  for (const kind of credentials) {
    if (!CREDENTIAL_KINDS.includes(kind)) throw new Error(`authenticate(): unknown credential kind "${kind}"`)
  }
  const apiKeySources = [...(options.apiKeySources ?? ['header'])]
  const issuers = [...(options.issuers ?? [])]
  const strict = options.revocation === 'strict'
  return async function authenticate(c, next) {
    try {
      c.var.ctx.principal = await loadPrincipal({
        request: c.req.raw,
        env: c.env,
        config: c.var.ctx.config,
        credentials,
        apiKeySources,
        apiKeyParam: 'api_key',
        issuers,
        strictRevocation: strict,
        waitUntil: (promise) => c.executionCtx.waitUntil(promise),
        audit: c.var.ctx.audit,
      })
    } catch (error) {
      // A browser page of the gateway (e.g. /auth/sessions) sends the signed-out user to login.
      const redirect = loginRedirectFor(c.req.raw, credentials, error, c.var.ctx.config.issuer)
      if (!redirect) throw error
      return redirect
    }
    await next()
  }
}

/**
 * The principal `authenticate` stored; a handler behind it can rely on one being there (without
 * `authenticate` in front it throws, a 500 that names the mistake).
 *
 * @example
 * ```ts
 * app.get('/me', authenticate(), (c) => {
 *   const { id, username, roles, scopes, method } = currentPrincipal(c)
 *   return c.json({ id, username, roles, scopes, method })
 * })
 * ```
 */
export function currentPrincipal(c: { var: AppBindings['Variables'] }): Principal {
  const principal = c.var.ctx.principal
  if (!principal) throw new GatewayError('internal_error', 'No principal: authenticate() must run first.')
  return principal
}

const NOT_FIRST_PARTY =
  'A token issued to an app cannot manage the account or the gateway: sign in yourself (the browser session or a password-grant token).'

/**
 * The guard of every endpoint that manages the account or the gateway (admin API, API keys,
 * sessions, logout-all, password, identities, grants): first-party credentials only. A token an
 * app obtained with the user's consent acts for the user only as far as the consent page said;
 * here it is 403 `insufficient_scope` (RFC 6750 §3.1), audited, and the handler never runs. Any
 * principal not marked first-party (API keys, Basic, external tokens too) is refused the same way.
 * Declared next to each such route; src/first-party-routes.test.ts walks the app's routes.
 *
 * @example
 * ```ts
 * // Your own account page: the user's session or own token, never an app acting for them.
 * app.post('/billing/card', authenticate({ credentials: ['jwt', 'session'] }), requireFirstParty, handler)
 * ```
 */
export const requireFirstParty: MiddlewareHandler<AppBindings> = async function requireFirstParty(c, next) {
  const principal = currentPrincipal(c)
  if (principal.firstParty !== true) {
    recordAuditEvent(
      c.var.ctx,
      delegatedTokenRefused(principal, { method: c.req.method, path: new URL(c.req.url).pathname }),
    )
    throw new GatewayError('insufficient_scope', NOT_FIRST_PARTY, {
      challenge: { scheme: 'Bearer', error: 'insufficient_scope' },
    })
  }
  await next()
}

/**
 * 403 `forbidden` unless the caller holds one of `roles` (after the role hierarchy: admin > editor
 * > user, so `requireRole('editor')` admits admins too).
 *
 * @example
 * ```ts
 * app.delete('/reports/:id', authenticate(), requireRole('editor'), (c) => c.body(null, 204))
 * ```
 */
export function requireRole(...roles: string[]): MiddlewareHandler<AppBindings> {
  if (roles.length === 0) throw new Error('requireRole() needs at least one role')
  const rule = { access: 'authenticated' as const, roles, scopes: [] }
  return async function requireRole(c, next) {
    const decision = decide(rule, currentPrincipal(c), c.var.ctx.config.roleClosure)
    if (!decision.allow)
      throw new GatewayError('forbidden', `This endpoint requires one of the roles: ${roles.join(', ')}.`)
    await next()
  }
}

/**
 * 403 `insufficient_scope` (RFC 6750 §3.1, with the scope in the challenge) unless the caller
 * holds every one of `scopes`.
 *
 * @example
 * ```ts
 * app.get('/reports', authenticate(), requireScopes('read'), handler)
 * ```
 */
export function requireScopes(...scopes: string[]): MiddlewareHandler<AppBindings> {
  if (scopes.length === 0) throw new Error('requireScopes() needs at least one scope')
  const rule = { access: 'authenticated' as const, roles: [], scopes }
  return async function requireScopes(c, next) {
    const decision = decide(rule, currentPrincipal(c), c.var.ctx.config.roleClosure)
    if (!decision.allow) {
      const scope = scopes.join(' ')
      throw new GatewayError('insufficient_scope', `This endpoint requires the scope(s): ${scope}.`, {
        challenge: { scheme: 'Bearer', error: 'insufficient_scope', scope },
      })
    }
    await next()
  }
}

/**
 * Step-up on the gateway's own endpoints (the admin API with `require_mfa_for_admin`): `when`
 * decides per request from the settings whether a second factor is required. A weaker sign-in
 * gets RFC 9470's 401 `insufficient_user_authentication`; a browser navigation with the session
 * goes to the second-factor page and back.
 *
 * @example
 * ```ts
 * app.use('/admin/*', authenticate(), requireSecondFactor((settings) => settings.require_mfa_for_admin))
 * ```
 */
export function requireSecondFactor(
  when: (settings: AppBindings['Variables']['ctx']['config']['settings']) => boolean,
): MiddlewareHandler<AppBindings> {
  return async function requireSecondFactor(c, next) {
    const { config } = c.var.ctx
    if (when(config.settings)) {
      const rule = { access: 'authenticated' as const, roles: [], scopes: [], require_mfa: true }
      const decision = checkAuthentication(rule, currentPrincipal(c), Math.floor(Date.now() / 1000))
      if (!decision.allow && decision.reason === 'step_up') {
        const error = stepUpError(decision)
        const redirect = loginRedirectFor(c.req.raw, ['session'], error, config.issuer)
        if (redirect) return redirect
        throw error
      }
    }
    await next()
  }
}
