// The authentication pieces a Worker built on the gateway uses (see "Building on the gateway" in docs/authorization.md).

export type { AuthMethod, Principal } from '../identity/principal'
export { loadPrincipal } from './authenticate'
export { authenticate, currentPrincipal, requireFirstParty, requireRole, requireScopes } from './middleware'
