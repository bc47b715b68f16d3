import type { Principal } from '../authz/principal'
import { invalid } from './access-token-checks'

/**
 * The claim that makes a token first-party. Its absence means delegated, so a token minted
 * before the claim existed, or by anything that forgets it, can never manage an account.
 */
export const FIRST_PARTY_CLAIM = 'first_party'

// Values copied into upstream headers must not be able to split or end a header line.
const HEADER_UNSAFE = /[\r\n\0]/
const SAFE_CLAIM = /^[\x20-\x7e\u00a0-\uffff]{1,256}$/

function safeString(value: unknown, claim: string): string {
  if (typeof value !== 'string' || !SAFE_CLAIM.test(value) || HEADER_UNSAFE.test(value)) {
    throw invalid(`The access token's "${claim}" claim is not acceptable.`)
  }
  return value
}

/**
 * The principal of a verified access token: the gateway's own claims, each value safe to copy into
 * an upstream header. The registered claims (`iss`, `aud`, `exp`, `nbf`, `iat`, presence of `sub`
 * and `jti`) were checked by access-token-checks.ts before this runs.
 */
export function principalFromClaims(payload: Record<string, unknown>): Principal {
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 128) {
    throw invalid('The access token\'s "jti" claim is not acceptable.')
  }
  const roles = payload.roles
  if (!Array.isArray(roles) || roles.length > 64)
    throw invalid('The access token\'s "roles" claim is not acceptable.')
  const scope = payload.scope
  if (typeof scope !== 'string' || HEADER_UNSAFE.test(scope) || scope.length > 2048) {
    throw invalid('The access token\'s "scope" claim is not acceptable.')
  }
  const clientId = payload.client_id
  const authTime = payload.auth_time
  if (
    authTime !== undefined &&
    (typeof authTime !== 'number' || !Number.isSafeInteger(authTime) || authTime < 0)
  )
    throw invalid('The access token\'s "auth_time" claim is not acceptable.')
  const amr = payload.amr
  if (amr !== undefined && (!Array.isArray(amr) || amr.length > 16))
    throw invalid('The access token\'s "amr" claim is not acceptable.')
  return {
    method: 'jwt',
    id: safeString(payload.sub, 'sub'),
    username: safeString(payload.username, 'username'),
    roles: roles.map((role) => safeString(role, 'roles')),
    scopes: scope.split(' ').filter(Boolean),
    clientId: clientId === null || clientId === undefined ? undefined : safeString(clientId, 'client_id'),
    tokenId: payload.jti,
    // A number: checkClaims required it.
    expiresAt: payload.exp as number,
    sessionId: typeof payload.sid === 'string' ? payload.sid : undefined,
    authTime,
    ...(amr ? { amr: amr.map((value) => safeString(value, 'amr')) } : {}),
    ...(payload.acr !== undefined ? { acr: safeString(payload.acr, 'acr') } : {}),
    // Only the literal `true` counts: any other value is a delegated token.
    ...(payload[FIRST_PARTY_CLAIM] === true ? { firstParty: true as const } : {}),
  }
}
