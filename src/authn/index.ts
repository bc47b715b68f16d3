// The authentication pieces a Worker built on the gateway uses (see the README's library section).
export { loadPrincipal } from './authenticate'
export { authenticate, currentPrincipal, requireRole, requireScopes } from './middleware'
export type { AuthMethod, Principal } from './principal'
