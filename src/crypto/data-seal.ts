/**
 * Sealing stored secrets (a TOTP secret, say) under the DATA_KEYS key set: AES-256-GCM as a JWE
 * (RFC 7516) made and opened by jose, `alg: "dir"` (the key is the content key), `enc: "A256GCM"`,
 * a random 96-bit IV per seal (jose draws it), the key's `kid` in the protected header so the
 * right key of the set opens it after a rotation.
 *
 * Associated data binds a sealed value to its place (e.g. `totp:<user id>`): it goes into the
 * JWE AAD (RFC 7516 §5.1 step 14), authenticated but not stored, so a value copied to another row
 * does not open there. That is why the stored form is the flattened JWE's parts joined with "."
 * (`protected.iv.ciphertext.tag`) rather than the compact serialization, which has no room for
 * AAD of its own (jose's `aad` is a flattened/general JWE option).
 */
import { FlattenedEncrypt, flattenedDecrypt, errors as joseErrors } from 'jose'
import { toBase64Url } from './bytes'

/** One key of DATA_KEYS, imported for AES-GCM (non-extractable). */
export interface DataKey {
  kid: string
  key: CryptoKey
}

/** DATA_KEYS imported: the first key seals, every key opens. */
export interface DataKeyRing {
  sealer: DataKey
  openers: ReadonlyMap<string, CryptoKey>
}

export type SealErrorCode = 'malformed' | 'unknown_key' | 'not_opened'

/**
 * Why a sealed value did not open. `unknown_key`: its `kid` is no longer in DATA_KEYS (a key
 * dropped before every value was re-sealed); `not_opened`: wrong associated data, or the value or
 * key is not the one it was sealed with; `malformed`: not a sealed value of ours at all.
 */
export class SealError extends Error {
  readonly code: SealErrorCode
  constructor(code: SealErrorCode, message: string) {
    super(message)
    this.name = 'SealError'
    this.code = code
  }
}

const ALG = 'dir'
const ENC = 'A256GCM'
const encoder = new TextEncoder()

function boundTo(associatedData: string): Uint8Array {
  // An empty binding would let a value move anywhere: every seal names its place.
  if (associatedData.length === 0) throw new Error('sealData/openData: associated data must not be empty')
  return encoder.encode(associatedData)
}

/** Seals `plaintext` under the ring's first key, bound to `associatedData`. */
export async function sealData(
  ring: DataKeyRing,
  plaintext: Uint8Array | string,
  associatedData: string,
): Promise<string> {
  const bytes = typeof plaintext === 'string' ? encoder.encode(plaintext) : plaintext
  const jwe = await new FlattenedEncrypt(bytes)
    .setProtectedHeader({ alg: ALG, enc: ENC, kid: ring.sealer.kid })
    .setAdditionalAuthenticatedData(boundTo(associatedData))
    .encrypt(ring.sealer.key)
  return [jwe.protected, jwe.iv, jwe.ciphertext, jwe.tag].join('.')
}

const PART = /^[A-Za-z0-9_-]+$/

/** Opens a value `sealData` made with a key of the ring and the same `associatedData`. */
export async function openData(
  ring: DataKeyRing,
  sealed: string,
  associatedData: string,
): Promise<Uint8Array> {
  const aad = boundTo(associatedData)
  const parts = sealed.split('.')
  if (parts.length !== 4 || !parts.every((part) => PART.test(part)))
    throw new SealError('malformed', 'not a sealed value')
  const [protectedHeader, iv, ciphertext, tag] = parts as [string, string, string, string]
  try {
    const { plaintext } = await flattenedDecrypt(
      { protected: protectedHeader, iv, ciphertext, tag, aad: toBase64Url(aad) },
      (header) => {
        // The kid only selects among our keys (a map lookup), never names where to find one.
        const key = typeof header?.kid === 'string' ? ring.openers.get(header.kid) : undefined
        if (!key) throw new SealError('unknown_key', 'sealed under a key DATA_KEYS no longer holds')
        return key
      },
      { keyManagementAlgorithms: [ALG], contentEncryptionAlgorithms: [ENC] },
    )
    return plaintext
  } catch (error) {
    if (error instanceof SealError) throw error
    if (error instanceof joseErrors.JWEDecryptionFailed)
      throw new SealError('not_opened', 'the value does not open with this key and associated data')
    throw new SealError('malformed', 'not a sealed value')
  }
}
