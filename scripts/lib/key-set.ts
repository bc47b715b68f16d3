import type { JWK } from 'jose'
import { generateSigningJwk, loadKeyRing, type SigningAlg } from '../../src/tokens/signing-keys'

/** The value of the SIGNING_KEYS secret: a private JWK set whose first key signs. */
export interface SigningKeySet {
  keys: JWK[]
}

export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'EdDSA']

export function parseSigningAlg(value: string | undefined): SigningAlg | undefined {
  if (value === undefined) return undefined
  const alg = SIGNING_ALGS.find((candidate) => candidate.toLowerCase() === value.toLowerCase())
  if (!alg) throw new Error(`--alg must be one of ${SIGNING_ALGS.join(', ')} (got "${value}")`)
  return alg
}

/**
 * Checks a SIGNING_KEYS value with the Worker's own loader, so a value that passes here is one the
 * deployed gateway accepts. Throws with the loader's reason (never the key material).
 */
export async function assertValidKeySet(value: string): Promise<SigningKeySet> {
  try {
    await loadKeyRing(value)
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : 'invalid'
    throw new Error(cause.startsWith('SIGNING_KEYS') ? cause : `SIGNING_KEYS: ${cause}`)
  }
  return JSON.parse(value) as SigningKeySet
}

export async function generateKeySet(alg: SigningAlg = 'ES256'): Promise<string> {
  const value = JSON.stringify({ keys: [await generateSigningJwk(alg)] })
  await assertValidKeySet(value)
  return value
}

/**
 * The current set with a new key in front: the new key signs from the next deployment on, the
 * old ones keep verifying tokens issued before it. The new key uses `alg`, or the algorithm of the
 * current signing key.
 */
export async function rotateKeySet(current: string, alg?: SigningAlg): Promise<string> {
  const set = await assertValidKeySet(current.trim())
  const currentAlg = set.keys[0]?.alg as SigningAlg | undefined
  const next = JSON.stringify({ keys: [await generateSigningJwk(alg ?? currentAlg ?? 'ES256'), ...set.keys] })
  await assertValidKeySet(next)
  return next
}
