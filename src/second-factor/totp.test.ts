/**
 * TOTP arithmetic and the input rules of the second step, without storage: RFC 6238's own test
 * vectors (SHA-1 key "12345678901234567890", 8 digits there; our 6 digits are the last six), the
 * ±1 step window, and the shapes of codes that are refused before anything is looked up.
 */
import { describe, expect, it } from 'vitest'
import { newRecoveryCodes, parseRecoveryCode, parseTotpCode, recoveryCodeHash } from './codes'
import { matchingStep, secretText, stepAt, totpKeyUri } from './totp'

const RFC_KEY = new TextEncoder().encode('12345678901234567890')
// RFC 6238 Appendix B, SHA-1 column (8 digits), at T = 59, 1111111109, 1234567890, 2000000000.
const VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
]

describe('matchingStep: which 30-second step a code is for', () => {
  it.each(VECTORS)('accepts the RFC 6238 vector at T=%i (last six digits of %s)', (time, code) => {
    expect(matchingStep(RFC_KEY, code.slice(-6), time)).toBe(stepAt(time))
  })

  it('accepts the code of one step before and one step after, not two', () => {
    const [time, code] = VECTORS[2] as [number, string]
    expect(matchingStep(RFC_KEY, code.slice(-6), time + 30)).toBe(stepAt(time))
    expect(matchingStep(RFC_KEY, code.slice(-6), time - 30)).toBe(stepAt(time))
    expect(matchingStep(RFC_KEY, code.slice(-6), time + 60)).toBeUndefined()
    expect(matchingStep(RFC_KEY, code.slice(-6), time - 60)).toBeUndefined()
  })

  it('refuses a code of another key', () => {
    const other = new TextEncoder().encode('abcdefghijabcdefghij')
    expect(matchingStep(other, '287082', 59)).toBeUndefined()
  })
})

describe('the otpauth URI and the typed secret', () => {
  it('carries issuer, account, the base32 secret, SHA1, 6 digits and 30 s', () => {
    const uri = new URL(totpKeyUri('Edge Auth Gateway', 'alice', RFC_KEY))
    expect(uri.protocol).toBe('otpauth:')
    expect(uri.searchParams.get('secret')).toBe(secretText(RFC_KEY))
    expect(uri.searchParams.get('issuer')).toBe('Edge Auth Gateway')
    expect(uri.searchParams.get('digits')).toBe('6')
    expect(uri.searchParams.get('period')).toBe('30')
    expect(secretText(RFC_KEY)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
  })
})

describe('input refused before any lookup (400 invalid_request, never 500)', () => {
  it.each([
    ['letters', 'abcdef'],
    ['five digits', '12345'],
    ['seven digits', '1234567'],
    ['a very long input', '1'.repeat(10_000)],
    ['empty', ''],
    ['unicode digits', '١٢٣٤٥٦'],
  ])('a TOTP code of %s', (_name, input) => {
    expect(() => parseTotpCode(input)).toThrow(
      expect.objectContaining({ code: 'invalid_request', status: 400 }),
    )
  })

  it('takes the digits with the space apps show between them', () => {
    expect(parseTotpCode(' 123 456 ')).toBe('123456')
  })

  it.each([
    ['too short', 'abcde'],
    ['characters outside base32', 'abcde-fgh1!'],
    ['a very long input', 'a'.repeat(10_000)],
  ])('a recovery code %s', (_name, input) => {
    expect(() => parseRecoveryCode(input)).toThrow(expect.objectContaining({ code: 'invalid_request' }))
  })
})

describe('recovery codes', () => {
  it('are ten distinct codes shaped "xxxxx-xxxxx", and typed in another case or without the dash they hash alike', async () => {
    const codes = newRecoveryCodes()
    expect(codes).toHaveLength(10)
    expect(new Set(codes).size).toBe(10)
    for (const code of codes) expect(code).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/)
    const code = codes[0] as string
    const typed = parseRecoveryCode(code.toUpperCase().replace('-', ' '))
    expect(await recoveryCodeHash(typed)).toBe(await recoveryCodeHash(code))
  })
})
