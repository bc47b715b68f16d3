import { describe, expect, it } from 'vitest'
import { sha256Hex } from './bytes'
import { hashMemoSize, MEMO_CAPACITY, memoizedSha256Hex } from './hash-memo'

describe('the SHA-256 memo of presented secrets', () => {
  it('answers exactly what hashing answers, for a repeated value too', async () => {
    for (const value of ['gwk_abc', 'gwk_abc', 'x'.repeat(300), 'x'.repeat(300)])
      expect(await memoizedSha256Hex(value)).toBe(await sha256Hex(value))
  })

  it('stays bounded when a client floods it with distinct API keys or cookies', async () => {
    for (let i = 0; i < MEMO_CAPACITY + 500; i++) await memoizedSha256Hex(`flood-${i}`)
    expect(hashMemoSize()).toBeLessThanOrEqual(MEMO_CAPACITY)
  })

  it('does not keep values longer than 256 characters (a flood of huge keys costs no memory)', async () => {
    const before = hashMemoSize()
    await memoizedSha256Hex(`huge-${'k'.repeat(4096)}`)
    expect(hashMemoSize()).toBe(before)
  })
})
