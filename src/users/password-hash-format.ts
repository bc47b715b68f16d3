/**
 * Parsing and formatting of stored password hashes. Pure string work: nothing here derives a key,
 * so every refusal (malformed text, too many iterations, too high a bcrypt cost) happens before
 * any CPU is spent, and a crafted hash in the database cannot turn a login into a DoS.
 *
 * Our format (PHC string style, https://github.com/P-H-C/phc-string-format):
 *
 *   $pbkdf2-sha256$v=1$i=<iterations>,p=<0|1>$<salt>$<hash>
 *
 *   v=1   version of this layout: PBKDF2-HMAC-SHA256 over the UTF-8 of the NFC-normalized
 *         password, 16-byte salt, 32-byte output. Any change to those needs v=2.
 *   i     PBKDF2 iterations, decimal without leading zeros, 1..PBKDF2_MAX_ITERATIONS.
 *   p     1: the PBKDF2 input is HMAC-SHA256(key = pepper, message = password) instead of the
 *         password, so a stolen database alone does not allow offline guessing. 0: no pepper.
 *   salt, hash   standard base64 (RFC 4648 §4) without padding, canonical: 22 and 43 characters.
 *
 * Legacy formats accepted for verification only (they always need a rehash):
 *   bcrypt   $2a$ / $2b$ / $2y$<cost>$<22 salt><31 checksum>, bcrypt's own base64 alphabet.
 *   passlib  $pbkdf2-sha256$<rounds>$<salt>$<checksum>, passlib's "adapted base64" (`.` for
 *            `+`, no padding). Its second field is a bare number, ours starts `v=`, so the two
 *            never collide.
 */

// Production Workers reject more: "Pbkdf2 failed: iteration counts above 100000 are not supported".
// Local workerd accepts 600,000, so this cap is also what keeps a test from passing by accident.
export const PBKDF2_MAX_ITERATIONS = 100_000
export const SALT_BYTES = 16
export const HASH_BYTES = 32
// bcrypt's cost is log2(rounds): 13 doubles 12's work. Legacy hashes above it are refused unread.
export const BCRYPT_MAX_COST = 12
const BCRYPT_MIN_COST = 4 // the smallest cost any bcrypt implementation produces
const PASSLIB_MAX_SALT_BYTES = 1024 // passlib's own max_salt_size for pbkdf2_sha256

/** Bytes backed by a plain ArrayBuffer, as WebCrypto's BufferSource requires under TS ≥ 5.7. */
export type Bytes = Uint8Array<ArrayBuffer>

export type ParsedHash =
  | { kind: 'pbkdf2'; iterations: number; peppered: boolean; salt: Bytes; hash: Bytes }
  | { kind: 'passlib-pbkdf2'; iterations: number; salt: Bytes; hash: Bytes }
  | { kind: 'bcrypt'; cost: number; stored: string }

export type ParseFailure = 'malformed' | 'iterations_too_high' | 'cost_too_high'

export type ParseResult = { ok: true; parsed: ParsedHash } | { ok: false; reason: ParseFailure }

const OURS = /^\$pbkdf2-sha256\$v=1\$i=([1-9][0-9]{0,9}),p=([01])\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/
const PASSLIB = /^\$pbkdf2-sha256\$([1-9][0-9]{0,9})\$([A-Za-z0-9./]{0,1366})\$([A-Za-z0-9./]{43})$/
const BCRYPT = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/
// Longer than any valid hash of the three formats; keeps the regexes from scanning megabytes.
const MAX_STORED_LENGTH = 1500

/** Reads a stored hash without deriving anything. Never throws, whatever `stored` holds. */
export function parseStoredHash(stored: unknown): ParseResult {
  if (typeof stored !== 'string' || stored.length > MAX_STORED_LENGTH) return malformed()
  let m = OURS.exec(stored)
  if (m) {
    const iterations = Number(m[1])
    if (iterations > PBKDF2_MAX_ITERATIONS) return { ok: false, reason: 'iterations_too_high' }
    const salt = decodeBase64(m[3] ?? '')
    const hash = decodeBase64(m[4] ?? '')
    if (!salt || !hash) return malformed()
    return { ok: true, parsed: { kind: 'pbkdf2', iterations, peppered: m[2] === '1', salt, hash } }
  }
  m = PASSLIB.exec(stored)
  if (m) {
    const iterations = Number(m[1])
    if (iterations > PBKDF2_MAX_ITERATIONS) return { ok: false, reason: 'iterations_too_high' }
    const salt = decodeBase64((m[2] ?? '').replaceAll('.', '+'))
    const hash = decodeBase64((m[3] ?? '').replaceAll('.', '+'))
    if (!salt || !hash || salt.length > PASSLIB_MAX_SALT_BYTES) return malformed()
    return { ok: true, parsed: { kind: 'passlib-pbkdf2', iterations, salt, hash } }
  }
  m = BCRYPT.exec(stored)
  if (m) {
    const cost = Number(m[1])
    if (cost < BCRYPT_MIN_COST) return malformed()
    if (cost > BCRYPT_MAX_COST) return { ok: false, reason: 'cost_too_high' }
    return { ok: true, parsed: { kind: 'bcrypt', cost, stored } }
  }
  return malformed()
}

export function formatStoredHash(iterations: number, peppered: boolean, salt: Uint8Array, hash: Uint8Array) {
  return `$pbkdf2-sha256$v=1$i=${iterations},p=${peppered ? 1 : 0}$${encodeBase64(salt)}$${encodeBase64(hash)}`
}

function malformed(): ParseResult {
  return { ok: false, reason: 'malformed' }
}

// atob/btoa exist in both workerd and Node 20; Buffer does not exist in Workers without nodejs_compat.
export function encodeBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/=+$/, '')
}

/** Unpadded standard base64 to bytes, or null. Non-canonical text (stray low bits) is refused. */
export function decodeBase64(text: string): Bytes | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null
  const bytes = Uint8Array.from(atob(text + '='.repeat((4 - (text.length % 4)) % 4)), (c) => c.charCodeAt(0))
  return encodeBase64(bytes) === text ? bytes : null
}
