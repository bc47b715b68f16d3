import { loadPrincipal } from '../authn'
import { type AccessRule, decide } from '../authz/policy'
import type { Principal } from '../authz/principal'
import { scopesForRoles } from '../authz/scopes'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import { withStorage } from '../db/errors'
import type { Env } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { findUserById } from '../users'

/**
 * The periodic re-check of an open WebSocket's credential (proxy/websocket-relay.ts), by the same
 * checks a request makes: the loaders run again on the handshake's request, so a bearer token
 * meets its denylist and not-before (KV, or D1 on strict routes; key removal too), an API key its
 * record (revoked, expired, owner disabled); and the route's rule is decided again with what they
 * return. Their caches keep a re-check cheap: no signature check, one KV read at most.
 *
 * Basic is the exception: re-running it would cost a PBKDF2 derivation and count throttle
 * failures. Its principal is the user's password, so the user row decides instead: the socket ends
 * when the user is gone, disabled, or has changed the password since the handshake.
 */

export interface RecheckContext {
  request: Request
  env: Env
  config: GatewayConfig
  route: CompiledRoute
  rule: AccessRule
  principal: Principal
  /** When the handshake was authenticated (ms since epoch). */
  handshakeAtMs: number
}

function refused(description: string): GatewayError {
  return new GatewayError('invalid_credentials', description)
}

async function currentBasicPrincipal(context: RecheckContext): Promise<Principal> {
  const { env, config, principal } = context
  const user = await withStorage('websocket re-check (user)', () => findUserById(env.DB, principal.id))
  // `password_changed_at` has whole seconds: a change in the handshake's second also ends it.
  if (!user || user.disabled || user.passwordChangedAt >= Math.floor(context.handshakeAtMs / 1000))
    throw refused('The credentials of this connection are no longer valid.')
  const scopes = scopesForRoles(user.roles, config.roleClosure, config.settings.role_scopes)
  return { ...principal, roles: user.roles, scopes: [...scopes].sort() }
}

async function currentPrincipal(context: RecheckContext): Promise<Principal> {
  const { route, request, env, config } = context
  if (context.principal.method === 'basic') return currentBasicPrincipal(context)
  const principal = await loadPrincipal({
    request,
    env,
    config,
    credentials: route.credentials.filter((kind) => kind !== 'basic'),
    apiKeySources: route.api_key_sources,
    apiKeyParam: route.api_key_param,
    issuers: route.issuers,
    strictRevocation: route.revocation === 'strict',
    audience: route.resource,
    // Fire-and-forget bookkeeping (an API key's last-used time) needs no request to outlive.
    waitUntil: (promise) => {
      promise.catch(() => undefined)
    },
  })
  if (principal.id !== context.principal.id) throw refused('The connection changed hands.')
  return principal
}

/** A re-check for `context.principal`: throws once it is no longer valid or no longer allowed. */
export function principalRecheck(context: RecheckContext): () => Promise<void> {
  return async function recheckWebSocketPrincipal() {
    const principal = await currentPrincipal(context)
    if (!decide(context.rule, principal, context.config.roleClosure).allow)
      throw new GatewayError('forbidden', 'The principal is no longer allowed on this route.')
  }
}
