import { fromBase64Url, toBase64Url } from '../crypto/bytes'

/**
 * A rotated refresh token's successor, sealed so that only a holder of the parent token can read
 * it back. Successors are random; the rotation winner stores the sealed successor on the parent
 * row, and a client retrying within the grace window (lost response, two tabs) presents the parent
 * again, opens the seal and receives the same successor instead of tripping reuse detection.
 *
 * The key is HKDF-SHA256 of the parent token itself (256 bits of randomness that D1 holds only as
 * a SHA-256), so a D1 dump alone opens nothing, and no signing key is involved: rotating
 * SIGNING_KEYS inside the window changes nothing, and a leaked signing key derives nothing. The
 * seal is cleared once the window is over (tokens/refresh.ts, cleanup.ts), so an old token
 * plus a later dump cannot walk the chain either.
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const INFO = encoder.encode('edge-auth-gateway refresh-token successor v1')
const IV_BYTES = 12 // AES-GCM's standard nonce size

async function sealingKey(parent: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(parent), 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    // No salt: the input is already uniformly random (RFC 5869 §3.1); `info` separates this use.
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: INFO },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/**
 * `iv.ciphertext` (base64url). The parent's hash is the associated data, so a seal copied onto
 * another row does not open there.
 */
export async function sealSuccessor(parent: string, parentHash: string, successor: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(parentHash) },
    await sealingKey(parent),
    encoder.encode(successor),
  )
  return `${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`
}

/** The successor, or undefined when the seal does not open with this parent (or is malformed). */
export async function openSuccessor(
  parent: string,
  parentHash: string,
  sealed: string,
): Promise<string | undefined> {
  const [iv, ciphertext, extra] = sealed.split('.')
  if (iv === undefined || ciphertext === undefined || extra !== undefined) return undefined
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData: encoder.encode(parentHash) },
      await sealingKey(parent),
      fromBase64Url(ciphertext),
    )
    return decoder.decode(plaintext)
  } catch {
    return undefined
  }
}
