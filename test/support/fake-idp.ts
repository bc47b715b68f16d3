import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from 'jose'
import type { FetchLike } from '../../src/tokens/jwks-fetch'

/** One signing key of a test IdP: the private half signs, the public JWK is what its JWKS serves. */
export interface IdpKey {
  kid: string
  alg: 'ES256' | 'RS256'
  privateKey: CryptoKey
  publicJwk: JWK
}

export async function idpKey(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicJwk }
}

export function jwksOf(...keys: IdpKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => key.publicJwk) }
}

export interface SignOptions {
  header?: Record<string, unknown>
  /** Replaces the default claims entirely when given as `replace`. */
  claims?: Record<string, unknown>
  expiresIn?: number
}

/** A token signed by `key`, with sensible defaults for an access token of `issuer`. */
export async function signIdpToken(
  key: IdpKey,
  issuer: string,
  audience: string,
  options: SignOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sub: 'ext-user-1',
    iat: now,
    exp: now + (options.expiresIn ?? 300),
    iss: issuer,
    aud: audience,
    jti: crypto.randomUUID(),
    ...options.claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header })
    .sign(key.privateKey)
}

/**
 * An IdP's JWKS and discovery endpoints behind an injected fetch: unit tests count the calls and
 * make the IdP slow, broken or oversized without a network.
 */
export class FakeIdp {
  calls: string[] = []
  /** What the next fetches answer; a function may look at the URL. */
  respond: (url: string, init: RequestInit) => Promise<Response> | Response

  constructor(public jwks: unknown) {
    this.respond = () => Response.json(this.jwks)
  }

  readonly fetch: FetchLike = async (url, init) => {
    this.calls.push(url)
    return this.respond(url, init)
  }
}
