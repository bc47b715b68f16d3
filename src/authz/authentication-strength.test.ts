import { describe, expect, it } from 'vitest'
import { achievedAcr, combineFactors, passkeyAmr, satisfiesMfa } from './authentication-strength'

describe('RFC 8176 amr of a sign-in', () => {
  it('names a passkey hwk or swk by whether it is backed up, and a verified one counts as two factors', () => {
    expect(passkeyAmr({ backedUp: false, userVerified: true })).toEqual(['hwk', 'user', 'mfa'])
    expect(passkeyAmr({ backedUp: true, userVerified: true })).toEqual(['swk', 'user', 'mfa'])
    expect(satisfiesMfa(passkeyAmr({ backedUp: true, userVerified: false }))).toBe(false)
  })

  it('adds mfa only when two kinds of factor were used', () => {
    expect(combineFactors(['pwd'], ['otp'])).toEqual(['pwd', 'otp', 'mfa'])
    expect(combineFactors(['fed'], ['otp'])).toEqual(['fed', 'otp', 'mfa'])
    expect(combineFactors(['pwd'], ['hwk', 'user', 'mfa'])).toEqual(['pwd', 'hwk', 'user', 'mfa'])
    expect(combineFactors(['pwd'], ['pwd'])).toEqual(['pwd'])
  })

  it('never counts an emailed link or code (mca) as a factor of its own', () => {
    expect(satisfiesMfa(combineFactors(['pwd'], ['mca']))).toBe(false)
    expect(satisfiesMfa(combineFactors(['mca'], ['otp']))).toBe(false)
  })
})

describe('acr', () => {
  it('achieves the first requested value the sign-in meets; phr needs a passkey', () => {
    expect(achievedAcr(['phr', 'mfa'], ['pwd', 'otp', 'mfa'])).toBe('mfa')
    expect(achievedAcr(['phr', 'mfa'], ['hwk', 'user', 'mfa'])).toBe('phr')
    expect(achievedAcr(['mfa'], ['pwd'])).toBeUndefined()
    expect(achievedAcr(['urn:example:gold'], ['pwd', 'otp', 'mfa'])).toBeUndefined()
  })
})
