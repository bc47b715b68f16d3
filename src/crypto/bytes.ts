/** Small byte helpers shared by the Worker and the Node CLI (WebCrypto only). */
const encoder = new TextEncoder()

export function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length))
}

/** `prefix` + base64url of `bytes` random bytes (32 bytes = 256 bits by default). */
export function randomToken(prefix = '', bytes = 32): string {
  return prefix + toBase64Url(randomBytes(bytes))
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value)))
  let hex = ''
  for (const byte of digest) hex += HEX[byte]
  return hex
}

/**
 * Constant-time string equality for values of public length (hashes, fixed-format tokens): the
 * time depends only on the length, never on where the first difference is.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length)
  let difference = a.length ^ b.length
  for (let i = 0; i < length; i++) difference |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0)
  return difference === 0
}

export async function hmacSha256(key: string, message: string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey(
    'raw',
    encoder.encode(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  return new Uint8Array(await crypto.subtle.sign('HMAC', imported, encoder.encode(message)))
}

/** A key id for a generated key: its date and 48 random bits (`20261206-a1b2c3d4e5f6`). */
export function newKeyId(): string {
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '')
  const suffix = Array.from(randomBytes(6), (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${stamp}-${suffix}`
}
