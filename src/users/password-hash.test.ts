import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  constantTimeEqual,
  dummyVerify,
  hashPassword,
  MAX_PASSWORD_INPUT_LENGTH,
  PBKDF2_ITERATIONS,
  verifyPassword,
} from './password-hash'
import { PBKDF2_MAX_ITERATIONS, parseStoredHash } from './password-hash-format'

// Known-answer vectors computed offline with Node's crypto.pbkdf2Sync / createHmac (OpenSSL), an
// implementation independent of WebCrypto in workerd. Salt = bytes 0..15.
const PASSWORD = 'correct horse battery staple'
const PEPPER = 'test-pepper-0123456789'
const OURS_100K =
  '$pbkdf2-sha256$v=1$i=100000,p=0$AAECAwQFBgcICQoLDA0ODw$SdScJfWXhGIJ8Nkud3CrZOHHXpS0zmxQkmXuZxddKh4'
const OURS_1K =
  '$pbkdf2-sha256$v=1$i=1000,p=0$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4'
const OURS_PEPPERED =
  '$pbkdf2-sha256$v=1$i=100000,p=1$AAECAwQFBgcICQoLDA0ODw$1w7u4r0RcgZIGAoR12Y1yr/SQPsF3yW7vK3oXi+4IZg'
// 'café au lait' with a precomposed é (U+00E9), i=1000.
const OURS_NFC =
  '$pbkdf2-sha256$v=1$i=1000,p=0$AAECAwQFBgcICQoLDA0ODw$Fjw4lfxvwdy2jGRwSgC2R4igP70OuCDfrQZWOkJ6+V0'

// verifyPassword calls bcryptjs's named export `hash`. Only a module mock replaces that binding: a
// spy on the default export's `hash` property watches a reference the code never calls.
vi.mock('bcryptjs', async (importOriginal) => {
  const original = await importOriginal<typeof import('bcryptjs')>()
  return { ...original, hash: vi.fn(original.hash) }
})

/**
 * verifyPassword from a fresh copy of this module, bound to the mocked `hash`, and that spy. The
 * copy imported above was loaded with the Worker entry before the mock existed, so it calls the
 * original.
 */
async function verifyWithBcryptSpy() {
  vi.resetModules()
  const [{ hash }, fresh] = await Promise.all([import('bcryptjs'), import('./password-hash')])
  // The spy watches this verification only (a module cache shared with earlier tests keeps calls).
  vi.mocked(hash).mockClear()
  return { spy: vi.mocked(hash), verify: fresh.verifyPassword }
}

function spyDeriveBits() {
  return vi.spyOn(crypto.subtle, 'deriveBits')
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('hashPassword', () => {
  it('stores our self-describing format at policy iterations with a fresh salt each time', async () => {
    const first = await hashPassword(PASSWORD, {})
    const second = await hashPassword(PASSWORD, {})
    expect(first).toMatch(/^\$pbkdf2-sha256\$v=1\$i=100000,p=0\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(second).not.toBe(first)
  })

  it('records p=1 when a pepper is configured', async () => {
    expect(await hashPassword(PASSWORD, { pepper: PEPPER })).toMatch(/^\$pbkdf2-sha256\$v=1\$i=100000,p=1\$/)
  })

  it('refuses an empty pepper as a configuration mistake instead of hashing with an empty key', async () => {
    await expect(hashPassword(PASSWORD, { pepper: '' })).rejects.toThrow('PASSWORD_PEPPER is set but empty')
  })

  it('refuses an absurdly long input rather than normalizing megabytes', async () => {
    await expect(hashPassword('a'.repeat(MAX_PASSWORD_INPUT_LENGTH + 1), {})).rejects.toThrow()
  })
})

describe('the production PBKDF2 cap of 100,000 iterations', () => {
  it('is never exceeded by our hashing, verification or dummy verification', async () => {
    const spy = spyDeriveBits()
    const stored = await hashPassword(PASSWORD, { pepper: PEPPER })
    await verifyPassword(PASSWORD, stored, { pepper: PEPPER })
    await dummyVerify(PASSWORD, {})
    const parsed = parseStoredHash(stored)
    expect(parsed.ok && parsed.parsed.kind === 'pbkdf2' && parsed.parsed.iterations).toBe(PBKDF2_ITERATIONS)
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000)
    expect(spy).toHaveBeenCalledTimes(3)
    for (const [params] of spy.mock.calls) {
      expect((params as { iterations?: number }).iterations).toBeLessThanOrEqual(100_000)
    }
  })

  it('refuses a crafted hash with i=600000 without deriving anything', async () => {
    const spy = spyDeriveBits()
    const crafted = OURS_100K.replace('i=100000', 'i=600000')
    const result = await verifyPassword(PASSWORD, crafted, {})
    expect(result).toEqual({ ok: false, needsRehash: false, reason: 'unsupported_parameters' })
    expect(spy).not.toHaveBeenCalled()
  })

  it('refuses a passlib hash with 600000 rounds without deriving anything', async () => {
    const spy = spyDeriveBits()
    const crafted = '$pbkdf2-sha256$600000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk'
    expect(await verifyPassword('toomanysecrets', crafted, {})).toMatchObject({ ok: false })
    expect(spy).not.toHaveBeenCalled()
  })
})

describe('verifyPassword with our format', () => {
  it('accepts the right password for a known-answer vector', async () => {
    expect(await verifyPassword(PASSWORD, OURS_100K, {})).toEqual({ ok: true, needsRehash: false })
  })

  it('round-trips a fresh hash, including emoji and spaces', async () => {
    const password = 'my 🔑 is 🐉 long'
    expect(await verifyPassword(password, await hashPassword(password, {}), {})).toEqual({
      ok: true,
      needsRehash: false,
    })
  })

  it('rejects a wrong password, and one differing only in case', async () => {
    expect(await verifyPassword('wrong password entirely', OURS_100K, {})).toMatchObject({
      ok: false,
      reason: 'mismatch',
    })
    expect(await verifyPassword(PASSWORD.toUpperCase(), OURS_100K, {})).toMatchObject({ ok: false })
  })

  it('asks for a rehash when the hash has fewer iterations than policy', async () => {
    expect(await verifyPassword(PASSWORD, OURS_1K, {})).toEqual({ ok: true, needsRehash: true })
  })

  it('treats precomposed and decomposed accents as the same password (NFC)', async () => {
    expect(await verifyPassword('caf\u00e9 au lait', OURS_NFC, {})).toMatchObject({ ok: true })
    expect(await verifyPassword('cafe\u0301 au lait', OURS_NFC, {})).toMatchObject({ ok: true })
  })

  it('rejects an overlong password input without deriving', async () => {
    const spy = spyDeriveBits()
    const result = await verifyPassword('a'.repeat(10_000_000), OURS_100K, {})
    expect(result).toEqual({ ok: false, needsRehash: false, reason: 'invalid_password' })
    expect(spy).not.toHaveBeenCalled()
  })
})

describe('verifyPassword with a pepper', () => {
  it('accepts a peppered known-answer vector with the right pepper', async () => {
    expect(await verifyPassword(PASSWORD, OURS_PEPPERED, { pepper: PEPPER })).toEqual({
      ok: true,
      needsRehash: false,
    })
  })

  it('rejects the right password under a different pepper', async () => {
    expect(await verifyPassword(PASSWORD, OURS_PEPPERED, { pepper: 'another-pepper' })).toMatchObject({
      ok: false,
      reason: 'mismatch',
    })
  })

  it('refuses a p=1 hash when no pepper is configured, without deriving', async () => {
    const spy = spyDeriveBits()
    expect(await verifyPassword(PASSWORD, OURS_PEPPERED, {})).toEqual({
      ok: false,
      needsRehash: false,
      reason: 'pepper_missing',
    })
    expect(spy).not.toHaveBeenCalled()
  })

  it('does not let an attacker who flips p=1 to p=0 in the database bypass the pepper', async () => {
    const flipped = OURS_PEPPERED.replace('p=1', 'p=0')
    expect(await verifyPassword(PASSWORD, flipped, { pepper: PEPPER })).toMatchObject({ ok: false })
    expect(await verifyPassword(PASSWORD, flipped, {})).toMatchObject({ ok: false })
  })

  it('accepts an unpeppered hash once a pepper is configured and asks for a rehash', async () => {
    expect(await verifyPassword(PASSWORD, OURS_100K, { pepper: PEPPER })).toEqual({
      ok: true,
      needsRehash: true,
    })
  })
})

describe('verifyPassword with legacy bcrypt hashes', () => {
  it.each(['a', 'b', 'y'])('accepts a $2%s$ hash made by bcryptjs and asks for a rehash', async (minor) => {
    // bcryptjs only generates $2b$; $2a$ and $2y$ are the same algorithm under another prefix.
    const stored = (await bcrypt.hash(PASSWORD, 4)).replace(/^\$2b\$/, `$2${minor}$`)
    expect(stored.startsWith(`$2${minor}$04$`)).toBe(true)
    expect(await verifyPassword(PASSWORD, stored, {})).toEqual({ ok: true, needsRehash: true })
    expect(await verifyPassword('not the password', stored, {})).toMatchObject({
      ok: false,
      reason: 'mismatch',
    })
  })

  it('accepts fixed known vectors (OpenBSD/jBCrypt test suite and the PHP manual)', async () => {
    const jbcrypt = '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'
    const php = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a'
    expect(await verifyPassword('abc', jbcrypt, {})).toEqual({ ok: true, needsRehash: true })
    expect(await verifyPassword('rasmuslerdorf', php, {})).toEqual({ ok: true, needsRehash: true })
    expect(await verifyPassword('abd', jbcrypt, {})).toMatchObject({ ok: false })
  })

  it('refuses a crafted cost-31 hash before bcrypt runs (exponential cost DoS)', async () => {
    const { spy, verify } = await verifyWithBcryptSpy()
    // Were bcrypt to run on cost 31 it would not return for hours: make that fail at once instead.
    spy.mockImplementationOnce(() => Promise.reject(new Error('bcrypt ran on a cost-31 hash')))
    try {
      const crafted = '$2b$31$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'
      expect(await verify('abc', crafted, {})).toEqual({
        ok: false,
        needsRehash: false,
        reason: 'unsupported_parameters',
      })
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockReset()
    }
    // The spy does watch what verifyPassword calls: a cost-6 hash goes through it.
    const jbcrypt = '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'
    expect(await verify('abc', jbcrypt, {})).toEqual({ ok: true, needsRehash: true })
    expect(spy).toHaveBeenCalledTimes(1)
  })
})

describe('verifyPassword with legacy passlib pbkdf2_sha256 hashes', () => {
  // Vectors printed in passlib's own documentation; re-checked with Node's pbkdf2Sync.
  it('accepts the default 29000-round format and asks for a rehash', async () => {
    const stored = '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk'
    expect(await verifyPassword('toomanysecrets', stored, {})).toEqual({ ok: true, needsRehash: true })
    expect(await verifyPassword('joshua', stored, {})).toMatchObject({ ok: false, reason: 'mismatch' })
  })

  it('accepts a 10-byte salt with 8000 rounds', async () => {
    const stored = '$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE'
    expect(await verifyPassword('password', stored, {})).toEqual({ ok: true, needsRehash: true })
  })
})

describe('verifyPassword never throws on a malformed stored hash', () => {
  it.each([
    '',
    'plaintext',
    '$pbkdf2-sha256$v=1$i=100000,p=0$$',
    `${OURS_100K}\n`,
    OURS_100K.replace('$v=1$', '$v=9$'),
    '$2b$10$short',
    '$pbkdf2-sha256$29000$N$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk',
  ])('returns malformed_hash for %j', async (stored) => {
    expect(await verifyPassword(PASSWORD, stored, {})).toEqual({
      ok: false,
      needsRehash: false,
      reason: 'malformed_hash',
    })
  })

  it('treats an empty password as a mismatch, including against a passlib hash with an empty salt', async () => {
    expect(await verifyPassword('', OURS_1K, {})).toMatchObject({ ok: false, reason: 'mismatch' })
    const emptySalt = '$pbkdf2-sha256$29000$$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk'
    expect(await verifyPassword('toomanysecrets', emptySalt, {})).toMatchObject({
      ok: false,
      reason: 'mismatch',
    })
  })

  it('returns malformed_hash for a null column value', async () => {
    const stored = null as unknown as string
    expect(await verifyPassword(PASSWORD, stored, {})).toMatchObject({ ok: false, reason: 'malformed_hash' })
  })
})

describe('dummyVerify for unknown users', () => {
  it('never succeeds and costs exactly one derivation at policy iterations', async () => {
    const spy = spyDeriveBits()
    expect(await dummyVerify(PASSWORD, { pepper: PEPPER })).toMatchObject({ ok: false })
    expect(await dummyVerify(PASSWORD, {})).toMatchObject({ ok: false })
    expect(spy).toHaveBeenCalledTimes(2)
    for (const [params] of spy.mock.calls) {
      expect((params as { iterations?: number }).iterations).toBe(PBKDF2_MAX_ITERATIONS)
    }
  })
})

describe('constantTimeEqual', () => {
  it('compares every byte and rejects different lengths', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(9, 2, 3), Uint8Array.of(1, 2, 3))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false)
  })
})
