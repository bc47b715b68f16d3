import { loadApiKey } from './api-key'
import { registerLoader } from './authenticate'
import { loadBasic } from './basic'
import { loadBearerJwt } from './bearer-jwt'
import { loadExternalJwt } from './external-jwt'

// The credential kinds this build understands. A kind a route enables but that has no loader
// here simply never yields a principal.
registerLoader('jwt', loadBearerJwt)
registerLoader('external_jwt', loadExternalJwt)
registerLoader('api_key', loadApiKey)
registerLoader('basic', loadBasic)

export { loadPrincipal } from './authenticate'
export { authenticate, requireRole, requireScopes } from './middleware'
