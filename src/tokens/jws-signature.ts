import type { SigningAlg, VerificationKey } from './signing-keys'

// WebCrypto's parameters for each algorithm SIGNING_KEYS may hold (RFC 7518 §3.4, RFC 8037 §3.1):
// ES256 signatures are the raw 64-byte r || s that WebCrypto's ECDSA expects.
const VERIFY_PARAMS: Record<SigningAlg, Parameters<SubtleCrypto['verify']>[0]> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
}

/**
 * Whether `signature` is `key`'s over `signingInput`, with the algorithm pinned by the key. A
 * signature WebCrypto cannot even parse is a bad signature, not an error.
 */
export async function verifyJwsSignature(
  key: VerificationKey,
  signingInput: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  try {
    return await crypto.subtle.verify(VERIFY_PARAMS[key.alg], key.key, signature, signingInput)
  } catch {
    return false
  }
}
