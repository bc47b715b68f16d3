/**
 * A credential's public key: from the COSE key of its registration (parsed by @oslojs/webauthn) to
 * a JWK we store, and signature checks with WebCrypto (`crypto.subtle.verify`), never JS crypto.
 * Accepted: ES256 (P-256), EdDSA (Ed25519), RS256, the algorithms the registration options offer.
 */
import { decodePKIXECDSASignature, ECDSAPublicKey, p256 } from '@oslojs/crypto/ecdsa'
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

function bigIntBytes(value: bigint): Uint8Array {
  const hex = value.toString(16)
  const even = hex.length % 2 === 0 ? hex : `0${hex}`
  return Uint8Array.from(even.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
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
      const point = new ECDSAPublicKey(p256, ec.x, ec.y).encodeSEC1Uncompressed()
      const jwk = {
        kty: 'EC',
        crv: 'P-256',
        x: toBase64Url(point.slice(1, 33)),
        y: toBase64Url(point.slice(33)),
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
      signature: (der) => decodePKIXECDSASignature(der).encodeIEEEP1363(p256),
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
