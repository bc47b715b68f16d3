/**
 * Password hashing with WebCrypto only, so the same module runs in the Worker and in the operator
 * CLI (Node 20 via tsx). The stored format is documented in password-hash-format.ts.
 *
 * Nothing here logs: the password, the pepper and the derived bytes never leave these functions.
 */
import { hash as bcryptHash } from 'bcryptjs'
import {
  type Bytes,
  formatStoredHash,
  HASH_BYTES,
  type ParsedHash,
  PBKDF2_MAX_ITERATIONS,
  parseStoredHash,
  SALT_BYTES,
} from './password-hash-format'

// OWASP suggests 600,000 for PBKDF2-SHA256, but production Workers refuse more than 100,000, so
// policy is the cap; the optional pepper is what protects a stolen database beyond that.
export const PBKDF2_ITERATIONS = PBKDF2_MAX_ITERATIONS
// Far above the policy's 128 code points (even decomposed). Bounds the work of normalize() and
// the key import for a megabyte "password" posted at the login endpoint.
export const MAX_PASSWORD_INPUT_LENGTH = 4096

/**
 * `pepper` is a server secret (PASSWORD_PEPPER). Every function takes this object as a required
 * parameter, never defaulted, so that no call site can drop the pepper by omission.
 */
export interface PasswordHashOptions {
  pepper?: string
}

/** Why a verification failed. For logs only: a client must see one generic error for all. */
export type VerifyFailure =
  | 'mismatch'
  | 'malformed_hash'
  | 'unsupported_parameters'
  | 'pepper_missing'
  | 'invalid_password'

export type VerifyResult =
  | { ok: true; needsRehash: boolean }
  | { ok: false; needsRehash: false; reason: VerifyFailure }

/** Hashes a new password at policy parameters. Run the password policy first. */
export async function hashPassword(password: string, options: PasswordHashOptions): Promise<string> {
  const pepper = readPepper(options)
  if (password.length > MAX_PASSWORD_INPUT_LENGTH) {
    throw new Error('password exceeds the maximum input length')
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES))
  const material = await keyMaterial(password.normalize('NFC'), pepper)
  const hash = await pbkdf2(material, salt, PBKDF2_ITERATIONS)
  return formatStoredHash(PBKDF2_ITERATIONS, pepper !== undefined, salt, hash)
}

/**
 * Verifies against our format, bcrypt or passlib pbkdf2_sha256. Never throws for a bad `stored`
 * value; refuses excessive work factors before deriving anything. `needsRehash` asks the caller to
 * store a fresh `hashPassword` result now that it holds the plaintext.
 */
export async function verifyPassword(
  password: string,
  stored: string,
  options: PasswordHashOptions,
): Promise<VerifyResult> {
  const pepper = readPepper(options)
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_INPUT_LENGTH) {
    return fail('invalid_password')
  }
  const parsed = parseStoredHash(stored)
  if (!parsed.ok) return fail(parsed.reason === 'malformed' ? 'malformed_hash' : 'unsupported_parameters')
  return verifyParsed(password, parsed.parsed, pepper)
}

async function verifyParsed(password: string, parsed: ParsedHash, pepper: string | undefined) {
  switch (parsed.kind) {
    case 'pbkdf2': {
      // Without the pepper the hash cannot be checked; the operator must restore PASSWORD_PEPPER.
      if (parsed.peppered && pepper === undefined) return fail('pepper_missing')
      const material = await keyMaterial(password.normalize('NFC'), parsed.peppered ? pepper : undefined)
      const derived = await pbkdf2(material, parsed.salt, parsed.iterations)
      if (!constantTimeEqual(derived, parsed.hash)) return fail('mismatch')
      const needsRehash = parsed.iterations < PBKDF2_ITERATIONS || parsed.peppered !== (pepper !== undefined)
      return success(needsRehash)
    }
    case 'passlib-pbkdf2': {
      // passlib hashes the UTF-8 of the password as given, without normalization.
      const material = utf8(password)
      const derived = await pbkdf2(material, parsed.salt, parsed.iterations)
      return constantTimeEqual(derived, parsed.hash) ? success(true) : fail('mismatch')
    }
    case 'bcrypt': {
      // The first 29 characters ($2x$NN$ + 22 salt) are the setting; bcryptjs accepts 2a, 2b and 2y.
      // Only the 31-character checksum is compared: bcryptjs re-encodes the salt, which could differ
      // from a stored salt with stray low bits even when the password is right.
      const recomputed = await bcryptHash(password, parsed.stored.slice(0, 29))
      const same = constantTimeEqual(utf8(recomputed.slice(29)), utf8(parsed.stored.slice(29)))
      return same ? success(true) : fail('mismatch')
    }
  }
}

// Lazily made once per isolate: crypto.getRandomValues is not allowed at a Worker's global scope.
let dummy: { salt: Uint8Array; hash: Uint8Array } | undefined

/**
 * For an unknown username: the same code path and one derivation at policy parameters, so the
 * response time does not tell whether the account exists. The dummy hash is random bytes, not a
 * real derivation, so making it costs nothing. Accounts still on a legacy bcrypt or passlib hash
 * verify at their own cost and remain distinguishable until they are rehashed on login.
 */
export async function dummyVerify(password: string, options: PasswordHashOptions): Promise<VerifyResult> {
  dummy ??= {
    salt: crypto.getRandomValues(new Uint8Array(SALT_BYTES)),
    hash: crypto.getRandomValues(new Uint8Array(HASH_BYTES)),
  }
  const peppered = readPepper(options) !== undefined
  const stored = formatStoredHash(PBKDF2_ITERATIONS, peppered, dummy.salt, dummy.hash)
  const result = await verifyPassword(password, stored, options)
  // A match would mean guessing 256 random bits; still, an unknown user never authenticates.
  return result.ok ? fail('mismatch') : result
}

function readPepper(options: PasswordHashOptions): string | undefined {
  // An empty pepper would silently mean "HMAC with an empty key" while the operator believes
  // the database is peppered: treat it as the configuration mistake it is.
  if (options.pepper === '') throw new Error('PASSWORD_PEPPER is set but empty')
  return options.pepper
}

async function keyMaterial(password: string, pepper: string | undefined): Promise<Bytes> {
  const bytes = utf8(password)
  if (pepper === undefined) return bytes
  const hmac = { name: 'HMAC', hash: 'SHA-256' }
  const key = await crypto.subtle.importKey('raw', utf8(pepper), hmac, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes))
}

async function pbkdf2(material: Bytes, salt: Bytes, iterations: number) {
  const key = await crypto.subtle.importKey('raw', material, 'PBKDF2', false, ['deriveBits'])
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt, iterations }
  return new Uint8Array(await crypto.subtle.deriveBits(params, key, HASH_BYTES * 8))
}

/**
 * XOR-accumulates over every byte, with no early exit, so the time taken does not depend on where
 * the first difference is. Lengths are fixed by the stored format, so the length check leaks nothing.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

// A copy, because workers-types declare encode() as returning a possibly shared buffer.
function utf8(text: string): Bytes {
  return new Uint8Array(new TextEncoder().encode(text))
}

function success(needsRehash: boolean): VerifyResult {
  return { ok: true, needsRehash }
}

function fail(reason: VerifyFailure): VerifyResult {
  return { ok: false, needsRehash: false, reason }
}
