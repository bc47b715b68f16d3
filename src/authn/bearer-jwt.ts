import type { Principal } from '../authz/principal'
import type { CredentialInput } from '../credential-input'
import { GatewayError } from '../errors/gateway-error'
import { assertNotRevoked } from '../revocation'
import {
  type DecodedJws,
  decodeAccessToken,
  isPermanentFailure,
  type KeyRing,
  loadKeyRing,
  VerifiedTokenCache,
  verifyAccessToken,
} from '../tokens'

// RFC 6750 §2.1: `Bearer` then one b64token. Anything else in an Authorization header that says
// Bearer (two tokens, a comma, stray spaces) is an invalid token, not "no token".
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i

export function invalidToken(description: string): GatewayError {
  return new GatewayError('invalid_token', description, {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
  })
}

/** The bearer token of a request, undefined without one; throws on a malformed Bearer header. */
export function readBearerToken(request: Request): string | undefined {
  const header = request.headers.get('authorization')
  if (header === null || !/^bearer(\s|$)/i.test(header)) return undefined
  const match = BEARER.exec(header)
  if (!match) throw invalidToken('The Authorization header is not a single Bearer token.')
  return match[1]
}

/**
 * Whether a token claims to come from another issuer (unverified: only used to pick a verifier).
 * `decoded` is the token taken apart (undefined when it is not a JWS: then it is ours to refuse).
 */
export function claimsForeignIssuer(decoded: DecodedJws | undefined, issuer: string): boolean {
  return decoded !== undefined && decoded.payload.iss !== issuer
}

// One cache per imported key ring and audience: removing a key from SIGNING_KEYS (a new ring)
// drops every token verified with the old ring at once, and a token verified for one audience (an
// MCP resource) is never found in the cache of another (the gateway's own, another resource).
const caches = new WeakMap<KeyRing, Map<string, VerifiedTokenCache>>()

function cacheFor(ring: KeyRing, audience: string): VerifiedTokenCache {
  let byAudience = caches.get(ring)
  if (!byAudience) {
    byAudience = new Map()
    caches.set(ring, byAudience)
  }
  let cache = byAudience.get(audience)
  if (!cache) {
    cache = new VerifiedTokenCache()
    byAudience.set(audience, cache)
  }
  return cache
}

// Tokens that failed for good (bad signature, malformed, wrong issuer or audience...), per key ring
// and audience (a token refused for one audience may be good for another), so a client repeating a
// bad token costs one verification, not one per request. Bounded: at most REJECTED_CAPACITY
// entries of at most MAX_REMEMBERED_REJECTION characters (~20 MB worst case) per ring.
const REJECTED_CAPACITY = 10_000
const MAX_REMEMBERED_REJECTION = 2048
const rejections = new WeakMap<KeyRing, Map<string, GatewayError>>()

function rejectedFor(ring: KeyRing): Map<string, GatewayError> {
  let map = rejections.get(ring)
  if (!map) {
    map = new Map()
    rejections.set(ring, map)
  }
  return map
}

function rememberRejection(ring: KeyRing, key: string, error: GatewayError): void {
  const map = rejectedFor(ring)
  if (map.size >= REJECTED_CAPACITY) {
    const oldest = map.keys().next()
    if (!oldest.done) map.delete(oldest.value)
  }
  map.set(key, error)
}

/** Loader for our own access tokens (`jwt`). */
export async function loadBearerJwt(input: CredentialInput): Promise<Principal | undefined> {
  const token = readBearerToken(input.request)
  if (token === undefined) return undefined
  const ring = await loadKeyRing(input.env.SIGNING_KEYS)
  const { settings } = input.config
  const audience = input.audience ?? settings.audience
  const cache = cacheFor(ring, audience)
  const now = Math.floor(Date.now() / 1000)
  // A token in the cache passed our `iss` check: only a token not seen before needs decoding.
  let principal = cache.get(token, now)
  if (!principal) {
    // A route that also trusts external issuers lets their loader take tokens that are not ours;
    // the decoded token then goes on to our verifier, which does not decode it again.
    let decoded: DecodedJws | undefined
    if (input.credentials.includes('external_jwt')) {
      decoded = decodeAccessToken(token)
      if (claimsForeignIssuer(decoded, input.config.issuer)) return undefined
    }
    // The default audience's rejections are keyed by the token alone (the common case, no copy).
    const rejectionKey = input.audience === undefined ? token : `${input.audience} ${token}`
    const rejected = rejectedFor(ring).get(rejectionKey)
    if (rejected) throw rejected
    try {
      principal = await verifyAccessToken(
        token,
        ring,
        {
          issuer: input.config.issuer,
          audience,
          clockSkewSeconds: settings.clock_skew_seconds,
          maxLifetimeSeconds: settings.access_token_ttl_seconds,
        },
        decoded,
      )
    } catch (error) {
      if (isPermanentFailure(error) && token.length <= MAX_REMEMBERED_REJECTION)
        rememberRejection(ring, rejectionKey, error as GatewayError)
      throw error
    }
    cache.set(token, principal)
  }
  await assertNotRevoked(input.env, principal, { strict: input.strictRevocation })
  return principal
}
