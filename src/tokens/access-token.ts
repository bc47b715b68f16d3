import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import type { Principal } from '../authz/principal'
import { uuidv7 } from '../crypto/uuid7'
import { GatewayError } from '../errors/gateway-error'
import type { KeyRing } from './signing-keys'

export const ACCESS_TOKEN_TYP = 'at+jwt' // RFC 9068 §2.1
/** Tokens larger than this are rejected before any decoding (ours are well under 1 KiB). */
export const MAX_TOKEN_BYTES = 8 * 1024
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
// Header members that would let a token choose its own key or add unknown semantics.
const FORBIDDEN_HEADER_MEMBERS = ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'x5t#S256', 'crit'] as const
// Values copied into upstream headers must not be able to split or end a header line.
const HEADER_UNSAFE = /[\r\n\0]/
const SAFE_CLAIM = /^[\x20-\x7e\u00a0-\uffff]{1,256}$/

export interface AccessTokenClaims {
  sub: string
  username: string
  roles: string[]
  scope: string
  clientId?: string
  /** The refresh-token family (session) this token was issued in. */
  sessionId?: string
  /** When the user last authenticated (seconds); absent for client_credentials tokens. */
  authTime?: number
  /** A first-party token; without it the token is delegated (src/authz/principal.ts). */
  firstParty?: boolean
  /** RFC 8176 methods of the sign-in (absent for client tokens). */
  amr?: readonly string[]
  /** The `acr` an authorization request asked for and the sign-in achieved. */
  acr?: string
}

/**
 * The claim that makes a token first-party. Its absence means delegated, so a token minted
 * before the claim existed, or by anything that forgets it, can never manage an account.
 */
export const FIRST_PARTY_CLAIM = 'first_party'

export interface IssueOptions {
  issuer: string
  audience: string
  ttlSeconds: number
}

export interface IssuedAccessToken {
  token: string
  jti: string
  expiresAt: number
}

export async function issueAccessToken(
  ring: KeyRing,
  claims: AccessTokenClaims,
  options: IssueOptions,
): Promise<IssuedAccessToken> {
  const now = Math.floor(Date.now() / 1000)
  const jti = uuidv7()
  const expiresAt = now + options.ttlSeconds
  const token = await new SignJWT({
    scope: claims.scope,
    roles: claims.roles,
    username: claims.username,
    client_id: claims.clientId ?? null,
    ...(claims.sessionId ? { sid: claims.sessionId } : {}),
    ...(claims.authTime !== undefined ? { auth_time: claims.authTime } : {}),
    ...(claims.firstParty ? { [FIRST_PARTY_CLAIM]: true } : {}),
    ...(claims.amr && claims.amr.length > 0 ? { amr: [...claims.amr] } : {}),
    ...(claims.acr ? { acr: claims.acr } : {}),
  })
    .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(ring.signer.privateKey)
  return { token, jti, expiresAt }
}

export interface VerifyOptions {
  issuer: string
  audience: string
  clockSkewSeconds: number
  maxLifetimeSeconds: number
}

function invalid(description: string, cause?: unknown): GatewayError {
  return new GatewayError('invalid_token', description, {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
    cause,
  })
}

/**
 * Whether a verification failure can never turn into a success for the same token string and key
 * ring: everything but the time checks (`exp` passed, `nbf`/`iat` still in the future).
 */
export function isPermanentFailure(error: unknown): boolean {
  if (!(error instanceof GatewayError) || error.code !== 'invalid_token') return false
  const cause = error.cause
  if (cause instanceof errors.JWTExpired) return false
  if (cause instanceof errors.JWTClaimValidationFailed && (cause.claim === 'nbf' || cause.claim === 'iat'))
    return false
  return !error.message.includes('"iat"')
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired.'
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The access token's "${error.claim}" claim is not acceptable.`
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.'
  return 'The access token is invalid.'
}

function safeString(value: unknown, claim: string): string {
  if (typeof value !== 'string' || !SAFE_CLAIM.test(value) || HEADER_UNSAFE.test(value)) {
    throw invalid(`The access token's "${claim}" claim is not acceptable.`)
  }
  return value
}

function principalFromClaims(payload: JWTPayload, now: number, skew: number): Principal {
  if (typeof payload.iat !== 'number' || payload.iat > now + skew)
    throw invalid('The access token\'s "iat" claim is not acceptable.')
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
    expiresAt: payload.exp,
    sessionId: typeof payload.sid === 'string' ? payload.sid : undefined,
    authTime,
    ...(amr ? { amr: amr.map((value) => safeString(value, 'amr')) } : {}),
    ...(payload.acr !== undefined ? { acr: safeString(payload.acr, 'acr') } : {}),
    // Only the literal `true` counts: any other value is a delegated token.
    ...(payload[FIRST_PARTY_CLAIM] === true ? { firstParty: true as const } : {}),
  }
}

/**
 * Verifies one of our access tokens: size and shape first, then a header with a known `kid` and
 * no key-selecting members, the algorithm pinned by that key (never read from the token), then
 * `typ`, `iss`, `aud`, `exp`, `nbf`, `iat`, `sub`, `jti` and header-safe claim values.
 */
export async function verifyAccessToken(
  token: string,
  ring: KeyRing,
  options: VerifyOptions,
): Promise<Principal> {
  if (token.length > MAX_TOKEN_BYTES) throw invalid('The access token is too large.')
  if (!COMPACT_JWS.test(token)) throw invalid('The access token is malformed.')
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(token)
  } catch (error) {
    throw invalid('The access token is malformed.', error)
  }
  for (const member of FORBIDDEN_HEADER_MEMBERS) {
    if (member in header) throw invalid(`The access token header must not contain "${member}".`)
  }
  const key = typeof header.kid === 'string' ? ring.verifiers.get(header.kid) : undefined
  if (!key) throw invalid('The access token was not signed by a current key.')
  if (header.alg !== key.alg) throw invalid('The access token algorithm does not match its key.')
  let payload: JWTPayload
  try {
    const result = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: options.issuer,
      audience: options.audience,
      typ: ACCESS_TOKEN_TYP,
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      clockTolerance: options.clockSkewSeconds,
      maxTokenAge: options.maxLifetimeSeconds + options.clockSkewSeconds,
    })
    payload = result.payload
  } catch (error) {
    throw invalid(describeJoseError(error), error)
  }
  if (typeof payload.iss !== 'string') throw invalid('The access token\'s "iss" claim is not acceptable.')
  return principalFromClaims(payload, Math.floor(Date.now() / 1000), options.clockSkewSeconds)
}
