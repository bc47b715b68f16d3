import { SignJWT } from 'jose'
import type { Principal } from '../authz/principal'
import { uuidv7 } from '../crypto/uuid7'
import { GatewayError } from '../errors/gateway-error'
import { ACCESS_TOKEN_TYP, ClaimFailure, checkClaims, invalid, keyForHeader } from './access-token-checks'
import { FIRST_PARTY_CLAIM, principalFromClaims } from './access-token-principal'
import { type DecodedJws, decodeCompactJws, decodeJsonSegment } from './compact-jws'
import { verifyJwsSignature } from './jws-signature'
import type { KeyRing, VerificationKey } from './signing-keys'

export { ACCESS_TOKEN_TYP } from './access-token-checks'
export { FIRST_PARTY_CLAIM } from './access-token-principal'
/** Tokens larger than this are rejected before any decoding (ours are well under 1 KiB). */
export const MAX_TOKEN_BYTES = 8 * 1024
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
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

/**
 * Whether a verification failure can never turn into a success for the same token string and key
 * ring: everything but the time checks (`exp` passed, `nbf`/`iat` still in the future).
 */
export function isPermanentFailure(error: unknown): boolean {
  if (!(error instanceof GatewayError) || error.code !== 'invalid_token') return false
  if (error.cause instanceof ClaimFailure) return !error.cause.temporal
  return !error.message.includes('"iat"')
}

// Headers already checked, per key ring: our tokens share a handful of header segments (one per
// signing key), so a first sight of a token decodes and checks only its payload and signature.
// Only headers that passed are kept, at most HEADER_MEMO_CAPACITY, so none is ever refused here.
const HEADER_MEMO_CAPACITY = 64
const checkedHeaders = new WeakMap<
  KeyRing,
  Map<string, { header: Record<string, unknown>; key: VerificationKey }>
>()

function checkedHeader(ring: KeyRing, segment: string, decoded?: Record<string, unknown>) {
  let memo = checkedHeaders.get(ring)
  if (!memo) {
    memo = new Map()
    checkedHeaders.set(ring, memo)
  }
  let known = memo.get(segment)
  if (!known) {
    let header = decoded
    try {
      header ??= decodeJsonSegment(segment)
    } catch (error) {
      throw invalid('The access token is malformed.', error)
    }
    known = { header, key: keyForHeader(header, ring) }
    if (memo.size >= HEADER_MEMO_CAPACITY) memo.clear()
    memo.set(segment, known)
  }
  return known
}

/** The token taken apart, or undefined when it is not even a JWS (the verifier says why). */
export function decodeAccessToken(token: string): DecodedJws | undefined {
  if (token.length > MAX_TOKEN_BYTES || !COMPACT_JWS.test(token)) return undefined
  try {
    return decodeCompactJws(token)
  } catch {
    return undefined
  }
}

/**
 * Verifies one of our access tokens: size and shape first, then a header with a known `kid` and
 * no key-selecting members, the algorithm pinned by that key (never read from the token) and `typ`,
 * then the signature, then `iss`, `aud`, `exp`, `nbf`, `iat`, `sub`, `jti` and header-safe claim
 * values. `decoded` is the same token already taken apart by the caller (decodeAccessToken).
 *
 * Written out rather than through jose's jwtVerify: on a token's first sight in an isolate, jose's
 * generic path (option parsing, a copy of the header, a second decode, several awaits) cost about
 * as much as our whole JavaScript budget (bench/README.md, "Cold path"). The checks are jose's own
 * (access-token-checks.ts), base64url is jose's, the signature is WebCrypto's.
 */
export async function verifyAccessToken(
  token: string,
  ring: KeyRing,
  options: VerifyOptions,
  decoded?: DecodedJws,
): Promise<Principal> {
  if (token.length > MAX_TOKEN_BYTES) throw invalid('The access token is too large.')
  if (!COMPACT_JWS.test(token)) throw invalid('The access token is malformed.')
  const { header, key } = decoded
    ? checkedHeader(ring, decoded.headerSegment, decoded.header)
    : checkedHeader(ring, token.slice(0, token.indexOf('.')))
  let jws = decoded
  if (!jws) {
    try {
      jws = decodeCompactJws(token, header)
    } catch (error) {
      throw invalid('The access token is malformed.', error)
    }
  }
  if (!(await verifyJwsSignature(key, jws.signingInput, jws.signature)))
    throw invalid('The access token signature is invalid.')
  const now = Math.floor(Date.now() / 1000)
  checkClaims(jws.payload, options, now)
  return principalFromClaims(jws.payload)
}
