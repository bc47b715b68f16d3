import { describe, expect, it } from 'vitest'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { openSuccessor, sealSuccessor } from './successor-seal'

async function sealed() {
  const parent = randomToken('rt_')
  const successor = randomToken('rt_')
  const parentHash = await sha256Hex(parent)
  return { parent, successor, parentHash, seal: await sealSuccessor(parent, parentHash, successor) }
}

describe('sealed refresh successors', () => {
  it('open with the parent token they were sealed under', async () => {
    const { parent, successor, parentHash, seal } = await sealed()
    expect(await openSuccessor(parent, parentHash, seal)).toBe(successor)
  })

  it('do not open with what D1 holds (the parent hash) or with another token', async () => {
    const { parentHash, seal } = await sealed()
    expect(await openSuccessor(parentHash, parentHash, seal)).toBeUndefined()
    expect(await openSuccessor(randomToken('rt_'), parentHash, seal)).toBeUndefined()
  })

  it('do not open when copied onto another row (the parent hash is bound as associated data)', async () => {
    const { parent, seal } = await sealed()
    expect(await openSuccessor(parent, await sha256Hex(randomToken('rt_')), seal)).toBeUndefined()
  })

  it('do not open when tampered with or malformed', async () => {
    const { parent, parentHash, seal } = await sealed()
    const [iv, ciphertext] = seal.split('.')
    const flipped = `${iv}.${ciphertext?.startsWith('A') ? 'B' : 'A'}${ciphertext?.slice(1)}`
    for (const bad of [flipped, `${seal}.x`, 'not-a-seal', '', `${iv}.`]) {
      expect(await openSuccessor(parent, parentHash, bad)).toBeUndefined()
    }
  })

  it('never contain the successor or the parent in clear, and differ for the same input', async () => {
    const { parent, successor, parentHash, seal } = await sealed()
    expect(seal).not.toContain(successor.slice(3))
    expect(seal).not.toContain(parent.slice(3))
    expect(await sealSuccessor(parent, parentHash, successor)).not.toBe(seal)
  })
})
