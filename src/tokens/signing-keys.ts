import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'
import * as z from 'zod/mini'
import { importedPerSecret, parseKeySetSecret } from '../config/secret-key-set'
import '../config/zod-locale'
import { newKeyId } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'

export type SigningAlg = 'ES256' | 'EdDSA'

export interface VerificationKey {
  kid: string
  alg: SigningAlg
  key: CryptoKey
}

export interface KeyRing {
  /** The first key of SIGNING_KEYS: signs everything the gateway issues. */
  signer: VerificationKey & { privateKey: CryptoKey }
  /** Every key of SIGNING_KEYS by `kid`; the algorithm is pinned per key, never taken from a token. */
  verifiers: ReadonlyMap<string, VerificationKey>
  /** What /.well-known/jwks.json serves: public members only. */
  publicJwks: { keys: JWK[] }
}

const privateJwk = z
  .looseObject({
    kid: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 URL-safe characters')),
    alg: z.enum(['ES256', 'EdDSA']),
    kty: z.enum(['EC', 'OKP']),
    crv: z.enum(['P-256', 'Ed25519']),
    x: z.string().check(z.minLength(1)),
    y: z.optional(z.string()),
    d: z.string().check(z.minLength(1, 'private member "d" is required')),
  })
  .check(
    z.refine(
      (jwk) =>
        jwk.alg === 'ES256'
          ? jwk.kty === 'EC' && jwk.crv === 'P-256'
          : jwk.kty === 'OKP' && jwk.crv === 'Ed25519',
      {
        message: 'kty/crv do not match alg (ES256 needs EC P-256, EdDSA needs OKP Ed25519)',
      },
    ),
  )

const keySet = z.object({ keys: z.array(privateJwk).check(z.minLength(1, 'must hold at least one key')) })

function misconfigured(reason: string): GatewayError {
  return new GatewayError('gateway_misconfigured', 'The gateway is misconfigured.', {
    cause: new Error(`SIGNING_KEYS: ${reason}`),
  })
}

function publicMembers(jwk: z.infer<typeof privateJwk>): JWK {
  const { kid, alg, kty, crv, x, y } = jwk
  return y === undefined ? { kid, alg, kty, crv, x, use: 'sig' } : { kid, alg, kty, crv, x, y, use: 'sig' }
}

async function importKeyRing(secret: string): Promise<KeyRing> {
  const set = parseKeySetSecret(keySet, secret, misconfigured)
  const verifiers = new Map<string, VerificationKey>()
  const publicKeys: JWK[] = []
  for (const jwk of set.keys) {
    if (verifiers.has(jwk.kid)) throw misconfigured(`duplicate kid "${jwk.kid}"`)
    const publicJwk = publicMembers(jwk)
    let key: CryptoKey
    try {
      key = (await importJWK(publicJwk, jwk.alg)) as CryptoKey
    } catch {
      throw misconfigured(`key "${jwk.kid}" cannot be imported`)
    }
    verifiers.set(jwk.kid, { kid: jwk.kid, alg: jwk.alg, key })
    publicKeys.push(publicJwk)
  }
  const first = set.keys[0] as z.infer<typeof privateJwk>
  let privateKey: CryptoKey
  try {
    privateKey = (await importJWK(first, first.alg)) as CryptoKey
  } catch {
    throw misconfigured(`key "${first.kid}" cannot be imported as a private key`)
  }
  const signer = { ...(verifiers.get(first.kid) as VerificationKey), privateKey }
  return { signer, verifiers, publicJwks: { keys: publicKeys } }
}

const importedKeyRing = importedPerSecret(importKeyRing)

export function loadKeyRing(secret: string | undefined): Promise<KeyRing> {
  if (!secret)
    return Promise.reject(
      misconfigured('is not set (wrangler secret put SIGNING_KEYS, or .dev.vars locally)'),
    )
  return importedKeyRing(secret)
}

/** A fresh private JWK for SIGNING_KEYS (used by `npm run keys` and `npm start`). */
export async function generateSigningJwk(alg: SigningAlg = 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
  })
  const jwk = await exportJWK(privateKey)
  return { ...jwk, kid: newKeyId(), alg, use: 'sig' }
}
