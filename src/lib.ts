/**
 * The gateway's pieces for building your own Worker (the seed's parameterized guards as Hono
 * middleware). "Building on the gateway" in docs/authorization.md shows a whole app.
 */
export { createApp } from './app'
export type { AuthenticateOptions } from './authn'
export { authenticate, currentPrincipal, requireFirstParty, requireRole, requireScopes } from './authn'
export type { AuthMethod, Principal } from './authz/principal'
export type { AppBindings, Env } from './env'
export { GatewayError } from './errors/gateway-error'
export { gatewayContext, gatewayErrorHandler } from './request-setup'
