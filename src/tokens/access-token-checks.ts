import { GatewayError } from '../errors/gateway-error'
import type { KeyRing, VerificationKey } from './signing-keys'

/**
 * The checks jose's `jwtVerify` makes on one of our access tokens, written out (access-token.ts
 * says why): the header before the signature is verified, the claims after. Every check of the
 * options the gateway used to pass jose is here: `algorithms` pinned by the key, `typ`, `issuer`,
 * `audience`, `requiredClaims`, `clockTolerance`, `maxTokenAge`; failures carry the same
 * descriptions, and `crit` (jose's only header extension) is refused outright.
 */

export const ACCESS_TOKEN_TYP = 'at+jwt' // RFC 9068 §2.1
// Header members that would let a token choose its own key or add unknown semantics.
const FORBIDDEN_HEADER_MEMBERS = ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'x5t#S256', 'crit'] as const

/**
 * Why a claim failed, as the cause of the 401: `temporal` when the same token could pass at another
 * time (`exp` passed, `nbf` or `iat` ahead, `iat` too old), so it must not be remembered as rejected.
 */
export class ClaimFailure extends Error {
  constructor(
    readonly claim: string,
    readonly temporal: boolean,
  ) {
    super(`"${claim}" claim check failed`)
  }
}

export function invalid(description: string, cause?: unknown): GatewayError {
  return new GatewayError('invalid_token', description, {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
    cause,
  })
}

/** `expired`: `exp` passed or `iat` older than the token lifetime (jose's JWTExpired). */
function claimFailed(claim: string, expired = false): GatewayError {
  const description = expired
    ? 'The access token has expired.'
    : `The access token's "${claim}" claim is not acceptable.`
  return invalid(description, new ClaimFailure(claim, expired || claim === 'nbf' || claim === 'iat'))
}

/** RFC 9068 §4 via jose's normalization: `at+jwt` and `application/at+jwt`, in any case. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}
const EXPECTED_TYP = normalizeTyp(ACCESS_TOKEN_TYP)

/**
 * The key a header names, after refusing key-selecting members, an unknown `kid`, an `alg` other
 * than the key's own (the algorithm is pinned by the key, never read from the token) and a `typ`
 * other than `at+jwt`.
 */
export function keyForHeader(header: Record<string, unknown>, ring: KeyRing): VerificationKey {
  for (const member of FORBIDDEN_HEADER_MEMBERS) {
    if (member in header) throw invalid(`The access token header must not contain "${member}".`)
  }
  const key = typeof header.kid === 'string' ? ring.verifiers.get(header.kid) : undefined
  if (!key) throw invalid('The access token was not signed by a current key.')
  if (header.alg !== key.alg) throw invalid('The access token algorithm does not match its key.')
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== EXPECTED_TYP) throw claimFailed('typ')
  return key
}

export interface ClaimOptions {
  issuer: string
  audience: string
  clockSkewSeconds: number
  maxLifetimeSeconds: number
}

// jose's order of presence checks for these options (required claims, then those the options add).
const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'jti', 'sub', 'exp'] as const

function numericDate(payload: Record<string, unknown>, claim: string): number | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw claimFailed(claim)
  return value
}

/**
 * The registered claims of a payload whose signature has been verified: present, `iss` and `aud`
 * ours, and the times within the clock skew (`nbf`, `exp`) and the token lifetime (`iat`).
 */
export function checkClaims(payload: Record<string, unknown>, options: ClaimOptions, now: number): void {
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(payload, claim)) throw claimFailed(claim)
  if (payload.iss !== options.issuer) throw claimFailed('iss')
  const { aud } = payload
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience))))
    throw claimFailed('aud')
  const skew = options.clockSkewSeconds
  const iat = numericDate(payload, 'iat') as number
  const nbf = numericDate(payload, 'nbf')
  if (nbf !== undefined && nbf > now + skew) throw claimFailed('nbf')
  const exp = numericDate(payload, 'exp')
  if (exp !== undefined && exp <= now - skew) throw claimFailed('exp', true)
  const age = now - iat
  if (age - skew > options.maxLifetimeSeconds + skew) throw claimFailed('iat', true)
  if (age < -skew) throw claimFailed('iat')
}
