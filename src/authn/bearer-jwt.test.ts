import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  attackerKeyPair,
  forgeToken,
  nowSeconds,
  signCompact,
  validClaims,
  validHeader,
} from '../../test/support/forge'
import { gatewayFetch } from '../../test/support/gateway'

afterEach(() => {
  vi.restoreAllMocks()
})

function bearerRequest(token: string): Promise<Response> {
  return gatewayFetch('/api/things', { headers: { authorization: `Bearer ${token}` } })
}

describe('rejected tokens are remembered per key ring', () => {
  it('a repeated forged token (attacker key, our kid) costs one signature verification, and stays 401', async () => {
    const { privateKey } = await attackerKeyPair()
    const forged = await signCompact(
      validClaims({ sub: `forged-${crypto.randomUUID()}` }),
      validHeader(),
      privateKey,
    )
    const verify = vi.spyOn(crypto.subtle, 'verify')
    expect((await bearerRequest(forged)).status).toBe(401)
    const afterFirst = verify.mock.calls.length
    expect(afterFirst).toBeGreaterThan(0)
    for (let i = 0; i < 3; i++) expect((await bearerRequest(forged)).status).toBe(401)
    expect(verify.mock.calls.length).toBe(afterFirst)
  })

  it('a token that is only not yet valid (nbf in the future) is verified again each time, never remembered', async () => {
    const early = await forgeToken({ sub: `early-${crypto.randomUUID()}`, nbf: nowSeconds() + 600 })
    const verify = vi.spyOn(crypto.subtle, 'verify')
    expect((await bearerRequest(early)).status).toBe(401)
    const afterFirst = verify.mock.calls.length
    expect((await bearerRequest(early)).status).toBe(401)
    expect(verify.mock.calls.length).toBeGreaterThan(afterFirst)
  })
})
