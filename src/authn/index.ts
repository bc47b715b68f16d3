// The authentication pieces a Worker built on the gateway uses (see the README's library section).

export type { AuthMethod, Principal } from '../identity/principal'
export { loadPrincipal } from './authenticate'
export { authenticate, currentPrincipal, requireRole, requireScopes } from './middleware'
