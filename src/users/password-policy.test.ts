import { describe, expect, it } from 'vitest'
import { selectCommonPasswords } from '../../scripts/lib/common-password-source'
import { COMMON_PASSWORDS } from './common-passwords.generated'
import { decodeFrontCoded } from './front-coding'
import { checkPassword } from './password-policy'

const commonPasswords = decodeFrontCoded(COMMON_PASSWORDS)

const FINE = 'tangerine lamp 42'

describe('checkPassword length (NIST 800-63B: 8 to 128 characters)', () => {
  it('rejects 7 characters as too short', () => {
    expect(checkPassword('k7#Qz!m')).toMatchObject({ ok: false, reason: 'too_short' })
  })

  it('accepts exactly 8 characters', () => {
    expect(checkPassword('k7#Qz!mW')).toEqual({ ok: true })
  })

  it('accepts exactly 128 characters and rejects 129', () => {
    const base = 'x7Kp'.repeat(32)
    expect(checkPassword(base)).toEqual({ ok: true })
    expect(checkPassword(`${base}Z`)).toMatchObject({ ok: false, reason: 'too_long' })
  })

  it('counts emoji as one character each: 8 emoji pass, 7 do not', () => {
    const eight = '🐉🔑🌵🎻🚲🧊🦉🍋'
    expect(eight.length).toBe(16) // UTF-16 units; the rule counts code points
    expect(checkPassword(eight)).toEqual({ ok: true })
    expect(checkPassword('🐉🔑🌵🎻🚲🧊🦉')).toMatchObject({ ok: false, reason: 'too_short' })
  })

  it('counts after NFC, so 7 decomposed accented letters are still too short', () => {
    const decomposed = 'e\u0301'.repeat(7) // 14 code points before NFC, 7 after
    expect(checkPassword(decomposed)).toMatchObject({ ok: false, reason: 'too_short' })
  })

  it('rejects a 10,000-character password by length before normalizing it', () => {
    expect(checkPassword('a'.repeat(10_000))).toMatchObject({ ok: false, reason: 'too_long' })
    expect(checkPassword('e\u0301'.repeat(5_000))).toMatchObject({ ok: false, reason: 'too_long' })
  })
})

describe('checkPassword composition (none required)', () => {
  it('accepts spaces, lowercase-only and non-Latin scripts', () => {
    expect(checkPassword('correct horse battery')).toEqual({ ok: true })
    expect(checkPassword('пароль для входа')).toEqual({ ok: true })
    expect(checkPassword('        mostly spaces')).toEqual({ ok: true })
  })

  it('rejects an unpaired surrogate that would hash like U+FFFD', () => {
    expect(checkPassword('abcdefgh\ud800')).toMatchObject({ ok: false, reason: 'invalid_characters' })
  })
})

describe('checkPassword blocklists', () => {
  it('rejects a common password such as "password123", in any case', () => {
    expect(commonPasswords).toContain('password123')
    expect(checkPassword('password123')).toMatchObject({ ok: false, reason: 'common' })
    expect(checkPassword('PassWord123')).toMatchObject({ ok: false, reason: 'common' })
  })

  it('rejects the password "iloveyou" and "12345678"', () => {
    expect(checkPassword('iloveyou')).toMatchObject({ ok: false, reason: 'common' })
    expect(checkPassword('12345678')).toMatchObject({ ok: false, reason: 'common' })
  })

  it('rejects a password equal to the username, case-insensitively', () => {
    expect(checkPassword('Alice.Liddell', { username: 'alice.liddell' })).toMatchObject({
      ok: false,
      reason: 'matches_username',
    })
    expect(checkPassword(FINE, { username: 'alice.liddell' })).toEqual({ ok: true })
  })

  it('gives a message that never echoes the password', () => {
    const result = checkPassword('password123')
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.message).not.toContain('password123')
  })
})

describe('the bundled common-password list', () => {
  it('is lowercase, unique and holds only entries the length rule could let through', () => {
    expect(commonPasswords.length).toBeGreaterThan(3000)
    expect(new Set(commonPasswords).size).toBe(commonPasswords.length)
    for (const entry of commonPasswords) {
      expect(entry).toBe(entry.toLowerCase())
      expect([...entry].length).toBeGreaterThanOrEqual(8)
      expect([...entry].length).toBeLessThanOrEqual(128)
    }
  })

  it('decodes to exactly the source list: the front coding loses and adds nothing', () => {
    const source = selectCommonPasswords()
    expect(new Set(commonPasswords)).toEqual(source)
    expect(commonPasswords.length).toBe(source.size)
  })

  it('rejects every password of the source list as common, so none slips through the encoding', () => {
    const missed = [...selectCommonPasswords()].filter((entry) => {
      const result = checkPassword(entry)
      return result.ok || result.reason !== 'common'
    })
    expect(missed).toEqual([])
  })
})
