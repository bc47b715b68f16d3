import { registerLoader } from './authenticate'
import { loadBearerJwt } from './bearer-jwt'

// The credential kinds this build understands. A kind a route enables but that has no loader
// here simply never yields a principal.
registerLoader('jwt', loadBearerJwt)

export { loadPrincipal } from './authenticate'
export { authenticate, requireRole, requireScopes } from './middleware'
