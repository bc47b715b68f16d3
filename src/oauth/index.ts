export { authenticateClient, type ClientAuthentication, invalidClient } from './client-authentication'
export { listGrants, revokeGrant } from './consent'
export { clientCors } from './cors'
export { loginFormTargets } from './login-return'
