import { describe, expect, it } from 'vitest'
import { toBase64Url } from '../crypto/bytes'
import { accessTokenHash } from './id-token'

async function leftHalf(hash: 'SHA-256' | 'SHA-512', value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(value)))
  return toBase64Url(digest.slice(0, digest.length / 2))
}

describe('at_hash (OIDC Core §3.1.3.6)', () => {
  it('is the left half of SHA-256 for ES256: 16 bytes, 22 base64url characters', async () => {
    const hash = await accessTokenHash('eyJhbGciOiJFUzI1NiJ9.e30.sig', 'ES256')
    expect(hash).toBe(await leftHalf('SHA-256', 'eyJhbGciOiJFUzI1NiJ9.e30.sig'))
    expect(hash).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it('is the left half of SHA-512 for EdDSA over Ed25519', async () => {
    expect(await accessTokenHash('token', 'EdDSA')).toBe(await leftHalf('SHA-512', 'token'))
  })
})
