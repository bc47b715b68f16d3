/**
 * OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6), signed by the same key ring as access tokens
 * so relying parties verify them from /.well-known/jwks.json. The header says `typ: JWT` and the
 * audience is the client, so an ID token is never accepted where an access token (`at+jwt`, the
 * gateway audience) is expected.
 */
import { SignJWT } from 'jose'
import { toBase64Url } from '../crypto/bytes'
import type { KeyRing, SigningAlg } from '../tokens'

export interface IdTokenInput {
  issuer: string
  clientId: string
  subject: string
  authTime: number
  nonce?: string
  amr: readonly string[]
  /** The `acr` the authorization request asked for and the sign-in achieved. */
  acr?: string
  /** OIDC Core §5.4, with the `email` scope: the user's address and whether it is verified. */
  email?: { email: string; verified: boolean }
  /** The access token issued beside it, for `at_hash`. */
  accessToken: string
  ttlSeconds: number
}

/**
 * OIDC Core §3.1.3.6: the left half of the hash of the access token's ASCII octets, base64url,
 * with the hash of the ID token's `alg`: SHA-256 for ES256, SHA-512 for EdDSA over Ed25519 (the
 * OIDC Core errata; oidc-provider's oidc-token-hash does the same).
 */
export async function accessTokenHash(accessToken: string, alg: SigningAlg): Promise<string> {
  const hash = alg === 'EdDSA' ? 'SHA-512' : 'SHA-256'
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(accessToken)))
  return toBase64Url(digest.slice(0, digest.length / 2))
}

export async function issueIdToken(ring: KeyRing, input: IdTokenInput): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    auth_time: input.authTime,
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    ...(input.amr.length > 0 ? { amr: [...input.amr] } : {}),
    ...(input.acr ? { acr: input.acr } : {}),
    ...(input.email ? { email: input.email.email, email_verified: input.email.verified } : {}),
    at_hash: await accessTokenHash(input.accessToken, ring.signer.alg),
    azp: input.clientId,
  })
    .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: 'JWT' })
    .setIssuer(input.issuer)
    .setSubject(input.subject)
    .setAudience(input.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + input.ttlSeconds)
    .sign(ring.signer.privateKey)
}
