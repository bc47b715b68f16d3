// Who is calling: the credential chain and the middleware every room's routes use (see "Building
// on the gateway" in docs/authorization.md for a Worker of your own).

export type { AuthMethod, Principal } from '../authz/principal'
export { loadPrincipal } from './authenticate'
export { readBearerToken } from './bearer-jwt'
export {
  type AuthenticateOptions,
  authenticate,
  currentPrincipal,
  requireFirstParty,
  requireRole,
  requireScopes,
  requireSecondFactor,
} from './middleware'
export { assertRecentAuthentication } from './recent-authentication'
