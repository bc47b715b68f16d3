import { type CryptoKey, exportJWK, importJWK, type JWK } from 'jose'
import * as z from 'zod/mini'
import '../config/zod-locale'
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
  let parsed: unknown
  try {
    parsed = JSON.parse(secret)
  } catch {
    throw misconfigured('is not valid JSON')
  }
  const result = keySet.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw misconfigured(`${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  const verifiers = new Map<string, VerificationKey>()
  const publicKeys: JWK[] = []
  for (const jwk of result.data.keys) {
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
  const first = result.data.keys[0] as z.infer<typeof privateJwk>
  let privateKey: CryptoKey
  try {
    privateKey = (await importJWK(first, first.alg)) as CryptoKey
  } catch {
    throw misconfigured(`key "${first.kid}" cannot be imported as a private key`)
  }
  const signer = { ...(verifiers.get(first.kid) as VerificationKey), privateKey }
  return { signer, verifiers, publicJwks: { keys: publicKeys } }
}

// Imported once per isolate and per secret value: a rotated secret (new deployment) re-imports.
let cached: { secret: string; ring: Promise<KeyRing> } | undefined

export function loadKeyRing(secret: string | undefined): Promise<KeyRing> {
  if (!secret)
    return Promise.reject(
      misconfigured('is not set (wrangler secret put SIGNING_KEYS, or .dev.vars locally)'),
    )
  if (cached?.secret !== secret) {
    const ring = importKeyRing(secret)
    cached = { secret, ring }
    // A failed import must not be cached forever.
    ring.catch(() => {
      if (cached?.ring === ring) cached = undefined
    })
  }
  return cached.ring
}

/** A fresh private JWK for SIGNING_KEYS (used by `npm run keys` and `npm start`). */
export async function generateSigningJwk(alg: SigningAlg = 'ES256'): Promise<JWK> {
  const { generateKeyPair } = await import('jose')
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
  })
  const jwk = await exportJWK(privateKey)
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '')
  const random = crypto.getRandomValues(new Uint8Array(6))
  const suffix = Array.from(random, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return { ...jwk, kid: `${stamp}-${suffix}`, alg, use: 'sig' }
}
