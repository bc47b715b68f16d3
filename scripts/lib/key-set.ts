import type { JWK } from 'jose'
import { generateDataJwk, loadDataKeys } from '../../src/config/data-keys'
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

/** The Worker's loader's reason for refusing a key set, as an Error naming the secret. */
async function checkedWith(name: string, load: () => Promise<unknown>): Promise<void> {
  try {
    await load()
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : 'invalid'
    throw new Error(cause.startsWith(name) ? cause : `${name}: ${cause}`)
  }
}

/**
 * Checks a SIGNING_KEYS value with the Worker's own loader, so a value that passes here is one the
 * deployed gateway accepts. Throws with the loader's reason (never the key material).
 */
export async function assertValidKeySet(value: string): Promise<SigningKeySet> {
  await checkedWith('SIGNING_KEYS', () => loadKeyRing(value))
  return JSON.parse(value) as SigningKeySet
}

/** The same for a DATA_KEYS value (AES-256-GCM keys that seal stored secrets). */
export async function assertValidDataKeySet(value: string): Promise<{ keys: JWK[] }> {
  await checkedWith('DATA_KEYS', () => loadDataKeys(value))
  return JSON.parse(value) as { keys: JWK[] }
}

/** A new DATA_KEYS value: one random 256-bit key, derived from nothing else. */
export async function generateDataKeySet(): Promise<string> {
  const value = JSON.stringify({ keys: [generateDataJwk()] })
  await assertValidDataKeySet(value)
  return value
}

/**
 * The current DATA_KEYS with a new key in front: it seals from the next deployment on, the old ones
 * keep opening what they sealed (drop them only once every value is re-sealed).
 */
export async function rotateDataKeySet(current: string): Promise<string> {
  const set = await assertValidDataKeySet(current.trim())
  const next = JSON.stringify({ keys: [generateDataJwk(), ...set.keys] })
  await assertValidDataKeySet(next)
  return next
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
