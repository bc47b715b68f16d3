import { describe, expect, it } from 'vitest'
import { API_KEY_PREFIX, apiKeyId, generateApiKey } from './format'

function base64UrlBytes(text: string): number {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)
  return atob(padded).length
}

describe('a generated API key', () => {
  it('reads as gwk_<16 hex id>_<43 base64url characters> and carries its id', () => {
    const { id, key } = generateApiKey()
    expect(key.startsWith(API_KEY_PREFIX)).toBe(true)
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(key).toMatch(/^gwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    expect(key.slice(4, 20)).toBe(id)
    expect(apiKeyId(key)).toBe(id)
  })

  it('has a secret part of 32 random bytes (256 bits), separate from the id', () => {
    const { id, key } = generateApiKey()
    const secret = key.slice(`${API_KEY_PREFIX}${id}_`.length)
    expect(base64UrlBytes(secret)).toBe(32)
    expect(secret).not.toContain(id)
  })

  it('never repeats an id or a secret across 2,000 keys', () => {
    const keys = Array.from({ length: 2000 }, generateApiKey)
    expect(new Set(keys.map((k) => k.id)).size).toBe(keys.length)
    expect(new Set(keys.map((k) => k.key.slice(21))).size).toBe(keys.length)
  })
})

describe('apiKeyId refuses anything that is not exactly a key', () => {
  const { key } = generateApiKey()
  const id = key.slice(4, 20)
  const secret = key.slice(21)

  it.each([
    ['an empty string', ''],
    ['a key with another prefix', `sk_${id}_${secret}`],
    ['an upper-case prefix', `GWK_${id}_${secret}`],
    ['an upper-case hex id', `gwk_${id.toUpperCase().replace(/[0-9]/g, 'A')}_${secret}`],
    ['a 15-character id', `gwk_${id.slice(1)}_${secret}`],
    ['a non-hex id', `gwk_${'g'.repeat(16)}_${secret}`],
    ['a secret one character short (252 bits)', `gwk_${id}_${secret.slice(1)}`],
    ['a secret one character long', `gwk_${id}_${secret}A`],
    ['a padded base64 secret', `gwk_${id}_${secret.slice(0, 42)}=`],
    ['a standard-base64 "+" in the secret', `gwk_${id}_${secret.slice(0, 42)}+`],
    ['a trailing newline', `${key}\n`],
    ['a leading space', ` ${key}`],
    ['a "Bearer " prefix', `Bearer ${key}`],
    ['two keys joined by a comma', `${key},${key}`],
  ])('%s', (_label, candidate) => {
    expect(apiKeyId(candidate)).toBeUndefined()
  })
})
