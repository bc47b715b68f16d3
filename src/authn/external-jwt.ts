import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose'
import { externalPrincipalId, type Principal } from '../authz/principal'
import type { ExternalIssuerConfig } from '../config/schema'
import type { CredentialInput, CredentialLoader } from '../credential-input'
import { GatewayError } from '../errors/gateway-error'
import { assertNotRevoked } from '../revocation'
import {
  type IssuerKeys,
  type JwksCache,
  jwksCache,
  MAX_TOKEN_BYTES,
  VERIFIED_CACHE_SIZE,
  VerifiedTokenCache,
} from '../tokens'
import { invalidToken, readBearerToken } from './bearer-jwt'
import { mapExternalClaims } from './claims-mapping'

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
// Header members that would let a token name its own key or add semantics we do not implement.
// (`x5t` stays allowed: Entra ID puts it in every token; it only names a key of the configured set.)
const FORBIDDEN_HEADER_MEMBERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const
const MAX_JTI_LENGTH = 256

/** The issuer config a token claims to come from, among those this route trusts (unverified `iss`). */
function selectIssuer(token: string, input: CredentialInput): ExternalIssuerConfig | undefined {
  let iss: unknown
  try {
    iss = decodeJwt(token).iss
  } catch {
    throw invalidToken('The access token is malformed.')
  }
  if (typeof iss !== 'string') throw invalidToken('The access token has no issuer.')
  // Ours: the `jwt` loader (earlier in precedence) has already verified it when the route takes it.
  if (iss === input.config.issuer) {
    if (input.credentials.includes('jwt')) return undefined
    throw invalidToken("This route does not accept the gateway's own access tokens.")
  }
  const trusted = input.config.settings.external_issuers.find(
    (issuer) => issuer.issuer === iss && input.issuers.includes(issuer.name),
  )
  if (!trusted) throw invalidToken("The access token's issuer is not trusted on this route.")
  return trusted
}

function checkHeader(token: string, issuer: ExternalIssuerConfig): void {
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(token)
  } catch {
    throw invalidToken('The access token is malformed.')
  }
  for (const member of FORBIDDEN_HEADER_MEMBERS) {
    if (member in header) throw invalidToken(`The access token header must not contain "${member}".`)
  }
  // Checked before any key is loaded, so a token with an unexpected alg (HS256 with the IdP's public
  // key as the secret, "none") costs nothing; jwtVerify pins the same list again.
  if (typeof header.alg !== 'string' || !(issuer.algorithms as readonly string[]).includes(header.alg))
    throw invalidToken('The access token algorithm is not accepted for its issuer.')
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired.'
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The access token's "${error.claim}" claim is not acceptable.`
  if (error instanceof errors.JWKSNoMatchingKey)
    return 'The access token was not signed by a key of its issuer.'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.'
  return 'The access token is invalid.'
}

/** jwtVerify against one key set; a token without `kid` is tried against every key that fits its alg. */
async function verifyWith(token: string, keys: IssuerKeys, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys.getKey, options)).payload
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error
    for await (const key of error) {
      try {
        return (await jwtVerify(token, key, options)).payload
      } catch {}
    }
    throw new errors.JWSSignatureVerificationFailed()
  }
}

async function verifyExternal(
  token: string,
  issuer: ExternalIssuerConfig,
  keys: IssuerKeys,
  cache: JwksCache,
  input: CredentialInput,
): Promise<{ keys: IssuerKeys; payload: JWTPayload }> {
  const stores = { KV: input.env.KV, waitUntil: input.waitUntil }
  const skew = input.config.settings.clock_skew_seconds
  const options: JWTVerifyOptions = {
    // Pinned per issuer, never read from the token (RFC 8725 §3.1).
    algorithms: [...issuer.algorithms],
    issuer: issuer.issuer,
    audience: [...issuer.audiences],
    requiredClaims: ['exp', 'sub'],
    clockTolerance: skew,
    ...(issuer.typ ? { typ: issuer.typ } : {}),
  }
  try {
    return { keys, payload: await verifyWith(token, keys, options) }
  } catch (error) {
    if (!(error instanceof errors.JWKSNoMatchingKey)) throw invalidTokenFrom(error)
    // The IdP may have rotated keys. Refetching is bounded by the cache's cooldown: a flood of
    // tokens with made-up kids costs at most one fetch per cooldown.
    const refreshed = await cache.refreshForUnknownKid(issuer, stores, keys)
    if (!refreshed) throw invalidTokenFrom(error)
    try {
      return { keys: refreshed, payload: await verifyWith(token, refreshed, options) }
    } catch (retryError) {
      throw invalidTokenFrom(retryError)
    }
  }
}

function invalidTokenFrom(error: unknown): GatewayError {
  return new GatewayError('invalid_token', describe(error), {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
    cause: error,
  })
}

function principalFrom(payload: JWTPayload, issuer: ExternalIssuerConfig, skew: number): Principal {
  const now = Math.floor(Date.now() / 1000)
  if (payload.iat !== undefined && payload.iat > now + skew)
    throw invalidToken('The access token\'s "iat" claim is not acceptable.')
  const jti = payload.jti
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH))
    throw invalidToken('The access token\'s "jti" claim is not acceptable.')
  const identity = mapExternalClaims(payload, issuer)
  return {
    method: 'external_jwt',
    id: externalPrincipalId(issuer.name, payload.sub as string),
    username: identity.username,
    roles: identity.roles,
    scopes: identity.scopes,
    issuerName: issuer.name,
    tokenId: jti,
    expiresAt: payload.exp,
  }
}

// `iat` of each verified token, for the subject-revocation check (Principal does not carry it).
const issuedAt = new WeakMap<Principal, number | undefined>()

/**
 * Loader for access tokens of trusted external issuers (`external_jwt`): the route's `issuers`
 * name which ones. The unverified `iss` only selects the issuer config; everything else is
 * checked against that config's keys, algorithms and audiences. `cache` is injectable for tests.
 */
export function createExternalJwtLoader(cache: JwksCache = jwksCache): CredentialLoader {
  // Verified tokens per issuer config and key set: a refetched JWKS (a key withdrawn) or a new
  // config starts an empty cache, so nothing verified with a withdrawn key outlives the refetch.
  const verified = new WeakMap<ExternalIssuerConfig, { keys: IssuerKeys; tokens: VerifiedTokenCache }>()
  function verifiedFor(issuer: ExternalIssuerConfig, keys: IssuerKeys): VerifiedTokenCache {
    let entry = verified.get(issuer)
    if (!entry || entry.keys !== keys) {
      entry = { keys, tokens: new VerifiedTokenCache() }
      verified.set(issuer, entry)
    }
    return entry.tokens
  }
  // Which issuer config verified a token string, so that a repeated token finds its cache entry
  // without decoding its header and payload again (two base64 + JSON decodes, the largest part of
  // this loader's cost on a hit). Only a lookup key: the entry is used only if that config is still
  // the route's trusted one and its current key set is the one the token was verified with.
  // Bounded like the caches it points into.
  const issuerOfToken = new Map<string, ExternalIssuerConfig>()

  async function cachedPrincipal(token: string, input: CredentialInput): Promise<Principal | undefined> {
    const issuer = issuerOfToken.get(token)
    if (!issuer || !input.issuers.includes(issuer.name)) return undefined
    if (!input.config.settings.external_issuers.includes(issuer)) return undefined
    const entry = verified.get(issuer)
    if (!entry) return undefined
    const current = await cache.keys(issuer, { KV: input.env.KV, waitUntil: input.waitUntil })
    if (entry.keys !== current) return undefined
    return entry.tokens.get(token, Math.floor(Date.now() / 1000))
  }

  function rememberIssuer(token: string, issuer: ExternalIssuerConfig): void {
    if (issuerOfToken.size >= VERIFIED_CACHE_SIZE) {
      const oldest = issuerOfToken.keys().next()
      if (!oldest.done) issuerOfToken.delete(oldest.value)
    }
    issuerOfToken.set(token, issuer)
  }

  return async function loadExternalJwt(input) {
    const token = readBearerToken(input.request)
    if (token === undefined) return undefined
    let principal = await cachedPrincipal(token, input)
    if (!principal) {
      if (token.length > MAX_TOKEN_BYTES) throw invalidToken('The access token is too large.')
      if (!COMPACT_JWS.test(token)) throw invalidToken('The access token is malformed.')
      const issuer = selectIssuer(token, input)
      if (!issuer) return undefined
      checkHeader(token, issuer)

      const current = await cache.keys(issuer, { KV: input.env.KV, waitUntil: input.waitUntil })
      principal = verifiedFor(issuer, current).get(token, Math.floor(Date.now() / 1000))
      if (!principal) {
        const { keys, payload } = await verifyExternal(token, issuer, current, cache, input)
        principal = principalFrom(payload, issuer, input.config.settings.clock_skew_seconds)
        issuedAt.set(principal, payload.iat)
        verifiedFor(issuer, keys).set(token, principal)
        rememberIssuer(token, issuer)
      }
    }
    // Our denylist applies to external tokens too (by `jti`), so an admin can cut one off early.
    await assertNotRevoked(input.env, principal, {
      strict: input.strictRevocation,
      iat: issuedAt.get(principal),
    })
    return principal
  }
}

export const loadExternalJwt: CredentialLoader = createExternalJwtLoader()
