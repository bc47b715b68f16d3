/**
 * A credential's public key: from the COSE key of its registration (parsed by @oslojs/webauthn) to
 * a JWK we store, and signature checks with WebCrypto (`crypto.subtle.verify`), never JS crypto.
 * Accepted: ES256 (P-256), EdDSA (Ed25519), RS256, the algorithms the registration options offer.
 */
import {
  COSEKeyType,
  type COSEPublicKey,
  coseAlgorithmEdDSA,
  coseAlgorithmES256,
  coseAlgorithmRS256,
  coseEllipticCurveEd25519,
  coseEllipticCurveP256,
} from '@oslojs/webauthn'
import { toBase64Url } from '../crypto/bytes'
import { refuse } from './refusal'

/** The COSE algorithms of the registration options' pubKeyCredParams, in preference order. */
export const ACCEPTED_ALGORITHMS = [coseAlgorithmES256, coseAlgorithmEdDSA, coseAlgorithmRS256] as const

export interface StoredPublicKey {
  algorithm: number
  jwk: JsonWebKey
}

type Bytes = Uint8Array<ArrayBuffer>

/** Big-endian bytes of a non-negative integer, left-padded to `length` when given. */
function bigIntBytes(value: bigint, length?: number): Uint8Array {
  const hex = value.toString(16)
  const padded = hex.padStart(length === undefined ? hex.length + (hex.length % 2) : length * 2, '0')
  if (length !== undefined && padded.length > length * 2) refuse('malformed')
  return Uint8Array.from(padded.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
}

/**
 * WebAuthn's ECDSA signature, ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` (§6.5.6), as the
 * `r‖s` WebCrypto verifies (IEEE P1363, 32 bytes each for P-256). Strict: short-form lengths,
 * positive minimal integers, nothing after the sequence; anything else is no signature. (An ASN.1
 * library for these two integers costs ~6 KiB gzipped in the Worker: @oslojs/asn1.)
 */
export function ecdsaDerToRaw(der: Uint8Array, size = 32): Uint8Array | undefined {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined
  const out = new Uint8Array(size * 2)
  let offset = 2
  for (const half of [0, 1]) {
    if (der[offset] !== 0x02) return undefined
    const length = der[offset + 1] ?? 0
    const start = offset + 2
    const end = start + length
    if (length === 0 || length > size + 1 || end > der.length) return undefined
    const first = der[start] ?? 0
    if (first & 0x80) return undefined // negative
    if (first === 0 && length > 1 && !((der[start + 1] ?? 0) & 0x80)) return undefined // not minimal
    const value = der.subarray(first === 0 && length > 1 ? start + 1 : start, end)
    if (value.length > size) return undefined
    out.set(value, half * size + size - value.length)
    offset = end
  }
  return offset === der.length ? out : undefined
}

/** The JWK of a COSE key with an accepted algorithm, or a refusal (`unsupported_algorithm`). */
export function publicKeyFromCose(key: COSEPublicKey): StoredPublicKey {
  try {
    if (!key.isAlgorithmDefined()) refuse('unsupported_algorithm')
    const algorithm = key.algorithm()
    const type = key.type()
    if (algorithm === coseAlgorithmES256 && type === COSEKeyType.EC2) {
      const ec = key.ec2()
      if (ec.curve !== coseEllipticCurveP256) refuse('unsupported_algorithm')
      const jwk = {
        kty: 'EC',
        crv: 'P-256',
        x: toBase64Url(bigIntBytes(ec.x, 32)),
        y: toBase64Url(bigIntBytes(ec.y, 32)),
      }
      return { algorithm, jwk }
    }
    if (algorithm === coseAlgorithmEdDSA && type === COSEKeyType.OKP) {
      const okp = key.okp()
      if (okp.curve !== coseEllipticCurveEd25519) refuse('unsupported_algorithm')
      return { algorithm, jwk: { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(okp.x) } }
    }
    if (algorithm === coseAlgorithmRS256 && type === COSEKeyType.RSA) {
      const rsa = key.rsa()
      return {
        algorithm,
        jwk: { kty: 'RSA', n: toBase64Url(bigIntBytes(rsa.n)), e: toBase64Url(bigIntBytes(rsa.e)) },
      }
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'CeremonyRefused') throw error
    refuse('malformed')
  }
  refuse('unsupported_algorithm')
}

interface WebCryptoAlgorithm {
  importParams: SubtleCryptoImportKeyAlgorithm
  verifyParams: SubtleCryptoSignAlgorithm
  /** WebAuthn's signature encoding → what WebCrypto verifies. */
  signature: (signature: Uint8Array) => Uint8Array
}

function webCryptoFor(algorithm: number): WebCryptoAlgorithm {
  if (algorithm === coseAlgorithmES256)
    return {
      importParams: { name: 'ECDSA', namedCurve: 'P-256' },
      verifyParams: { name: 'ECDSA', hash: 'SHA-256' },
      // WebAuthn ECDSA signatures are ASN.1 DER (§6.5.6); WebCrypto wants r‖s (IEEE P1363).
      signature: (der) => {
        const raw = ecdsaDerToRaw(der)
        if (!raw) throw new Error('not a DER ECDSA signature')
        return raw
      },
    }
  if (algorithm === coseAlgorithmEdDSA)
    return { importParams: { name: 'Ed25519' }, verifyParams: { name: 'Ed25519' }, signature: (raw) => raw }
  if (algorithm === coseAlgorithmRS256)
    return {
      importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      verifyParams: { name: 'RSASSA-PKCS1-v1_5' },
      signature: (raw) => raw,
    }
  refuse('unsupported_algorithm')
}

/** Imports the key (a malformed or off-curve key fails here, at registration, not at sign-in). */
export async function importPublicKey(key: StoredPublicKey): Promise<CryptoKey> {
  const { importParams } = webCryptoFor(key.algorithm)
  try {
    return await crypto.subtle.importKey('jwk', key.jwk, importParams, false, ['verify'])
  } catch {
    refuse('malformed')
  }
}

/** Whether `signature` over `message` verifies under the stored key. */
export async function verifySignature(
  key: StoredPublicKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const { verifyParams, signature: toWebCrypto } = webCryptoFor(key.algorithm)
  let converted: Uint8Array
  try {
    converted = toWebCrypto(signature)
  } catch {
    return false
  }
  const imported = await importPublicKey(key)
  return crypto.subtle.verify(verifyParams, imported, converted as Bytes, message as Bytes)
}
