import { describe, expect, it } from 'vitest'
import {
  decodeBase64,
  encodeBase64,
  formatStoredHash,
  PBKDF2_MAX_ITERATIONS,
  parseStoredHash,
} from './password-hash-format'

const SALT = 'AAECAwQFBgcICQoLDA0ODw' // bytes 0..15
const HASH = 'SdScJfWXhGIJ8Nkud3CrZOHHXpS0zmxQkmXuZxddKh4'
const BCRYPT_BODY = 'If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'

describe('parseStoredHash reads our format', () => {
  it('reads iterations, the pepper flag, a 16-byte salt and a 32-byte hash', () => {
    const result = parseStoredHash(`$pbkdf2-sha256$v=1$i=100000,p=1$${SALT}$${HASH}`)
    expect(result.ok).toBe(true)
    if (!result.ok || result.parsed.kind !== 'pbkdf2') throw new Error('expected our format')
    expect(result.parsed.iterations).toBe(100_000)
    expect(result.parsed.peppered).toBe(true)
    expect([...result.parsed.salt]).toEqual([...Array(16).keys()])
    expect(result.parsed.hash).toHaveLength(32)
  })

  it('round-trips through formatStoredHash', () => {
    const salt = decodeBase64(SALT)
    const hash = decodeBase64(HASH)
    if (!salt || !hash) throw new Error('fixture')
    expect(formatStoredHash(100_000, false, salt, hash)).toBe(
      `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$${HASH}`,
    )
  })
})

describe('parseStoredHash refuses excessive work factors before any derivation', () => {
  it.each([
    ['our format with i=600000', `$pbkdf2-sha256$v=1$i=600000,p=0$${SALT}$${HASH}`],
    ['our format with i=100001', `$pbkdf2-sha256$v=1$i=100001,p=0$${SALT}$${HASH}`],
    ['our format with ten-digit iterations', `$pbkdf2-sha256$v=1$i=4294967295,p=0$${SALT}$${HASH}`],
    ['passlib with 600000 rounds', `$pbkdf2-sha256$600000$N2YMIWQsBWBMae09x1jrPQ$${HASH}`],
  ])('refuses %s as iterations_too_high', (_name, stored) => {
    expect(parseStoredHash(stored)).toEqual({ ok: false, reason: 'iterations_too_high' })
  })

  it('accepts exactly the production cap', () => {
    expect(parseStoredHash(`$pbkdf2-sha256$v=1$i=${PBKDF2_MAX_ITERATIONS},p=0$${SALT}$${HASH}`).ok).toBe(true)
  })

  it.each(['13', '20', '31', '99'])('refuses a bcrypt hash with cost %s as cost_too_high', (cost) => {
    expect(parseStoredHash(`$2b$${cost}$${BCRYPT_BODY}`)).toEqual({ ok: false, reason: 'cost_too_high' })
  })

  it('accepts bcrypt cost 12', () => {
    expect(parseStoredHash(`$2b$12$${BCRYPT_BODY}`)).toMatchObject({
      ok: true,
      parsed: { kind: 'bcrypt', cost: 12 },
    })
  })
})

describe('parseStoredHash refuses malformed hashes without throwing', () => {
  const malformed: [string, unknown][] = [
    ['an empty string', ''],
    ['a plaintext password stored by mistake', 'hunter2hunter2'],
    ['null', null],
    ['a number', 42],
    ['an object', { hash: HASH }],
    ['a truncated hash', '$pbkdf2-sha256$v=1$i=100000,p=1$'],
    ['an unknown version', `$pbkdf2-sha256$v=2$i=100000,p=0$${SALT}$${HASH}`],
    ['a pepper flag of 2', `$pbkdf2-sha256$v=1$i=100000,p=2$${SALT}$${HASH}`],
    ['zero iterations', `$pbkdf2-sha256$v=1$i=0,p=0$${SALT}$${HASH}`],
    ['negative iterations', `$pbkdf2-sha256$v=1$i=-1,p=0$${SALT}$${HASH}`],
    ['iterations with a leading zero', `$pbkdf2-sha256$v=1$i=0100000,p=0$${SALT}$${HASH}`],
    ['iterations in exponent notation', `$pbkdf2-sha256$v=1$i=1e5,p=0$${SALT}$${HASH}`],
    ['parameters in the wrong order', `$pbkdf2-sha256$v=1$p=0,i=100000$${SALT}$${HASH}`],
    ['a 21-character salt', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT.slice(1)}$${HASH}`],
    ['a 42-character hash', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$${HASH.slice(1)}`],
    ['a padded hash', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$${HASH}=`],
    [
      'non-canonical base64 (stray low bits)',
      `$pbkdf2-sha256$v=1$i=100000,p=0$AAECAwQFBgcICQoLDA0ODx$${HASH}`,
    ],
    ['base64url characters', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$-${HASH.slice(1)}`],
    ['a trailing newline', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$${HASH}\n`],
    ['a trailing field', `$pbkdf2-sha256$v=1$i=100000,p=0$${SALT}$${HASH}$x`],
    ['passlib with zero rounds', `$pbkdf2-sha256$0$N2YMIWQsBWBMae09x1jrPQ$${HASH}`],
    ['passlib with an impossible salt length', `$pbkdf2-sha256$29000$N$${HASH}`],
    ['passlib with a short checksum', '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A'],
    ['bcrypt with an unknown minor version', `$2x$10$${BCRYPT_BODY}`],
    ['bcrypt without a minor version', `$2$10$${BCRYPT_BODY}`],
    ['bcrypt with cost 03', `$2b$03$${BCRYPT_BODY}`],
    ['bcrypt with a non-numeric cost', `$2b$1a$${BCRYPT_BODY}`],
    ['bcrypt one character short', `$2b$10$${BCRYPT_BODY.slice(1)}`],
    ['bcrypt one character long', `$2b$10$${BCRYPT_BODY}x`],
    [
      'an argon2id hash (unsupported)',
      '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
    ],
    ['a megabyte of junk', `$pbkdf2-sha256$v=1$i=1,p=0$${'A'.repeat(1_000_000)}`],
  ]

  it.each(malformed)('refuses %s', (_name, stored) => {
    expect(parseStoredHash(stored)).toEqual({ ok: false, reason: 'malformed' })
  })
})

describe('base64 helpers', () => {
  it('encode unpadded and decode only canonical text', () => {
    const bytes = Uint8Array.from([251, 255, 0, 1])
    expect(encodeBase64(bytes)).toBe('+/8AAQ')
    expect(decodeBase64('+/8AAQ')).toEqual(bytes)
    expect(decodeBase64('+/8AAR')).toBeNull()
    expect(decodeBase64('A')).toBeNull()
    expect(decodeBase64('AA AA')).toBeNull()
  })
})
