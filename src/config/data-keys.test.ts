/**
 * DATA_KEYS and the seal (issue 22, item 2's foundation): AES-256-GCM JWEs bound to their row by
 * associated data, the first key sealing and every key opening, a malformed set failing closed.
 */
import { describe, expect, it } from 'vitest'
import { fromBase64Url, toBase64Url } from '../crypto/bytes'
import { type DataKeyRing, openData, SealError, sealData } from '../crypto/data-seal'
import { isGatewayError } from '../errors/gateway-error'
import { generateDataJwk, loadDataKeys } from './data-keys'

const decoder = new TextDecoder()
const SECRET = 'JBSWY3DPEHPK3PXP' // what a TOTP secret looks like
const ROW = 'totp:0192d6a0-7c1e-7000-8000-000000000001'

/** The protected header of a sealed value. */
function headerOf(sealed: string): Record<string, unknown> {
  return JSON.parse(decoder.decode(fromBase64Url(sealed.split('.')[0] as string)))
}

function keySet(...keys: object[]): string {
  return JSON.stringify({ keys })
}

async function ring(...keys: object[]): Promise<DataKeyRing> {
  return loadDataKeys(keySet(...keys))
}

async function openError(promise: Promise<unknown>): Promise<SealError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(SealError)
  return error as SealError
}

/** The reason a DATA_KEYS value is refused: 503 gateway_misconfigured, the reason in the cause. */
async function refusal(secret: string | undefined): Promise<string> {
  const error = await loadDataKeys(secret).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isGatewayError(error)) throw new Error(`expected a GatewayError, got ${String(error)}`)
  expect(error.code).toBe('gateway_misconfigured')
  expect(error.status).toBe(503)
  return error.cause instanceof Error ? error.cause.message : ''
}

/** `sealed` with one character of part `index` changed (protected, iv, ciphertext, tag). */
function tamper(sealed: string, index: number): string {
  const parts = sealed.split('.')
  const part = parts[index] as string
  const last = part.at(-2) === 'A' ? 'B' : 'A'
  parts[index] = `${part.slice(0, -2)}${last}${part.at(-1)}`
  return parts.join('.')
}

describe('sealing and opening', () => {
  it('round-trips a value, as a dir/A256GCM JWE that names its key and shows neither value nor row', async () => {
    const keys = await ring(generateDataJwk())
    const sealed = await sealData(keys, SECRET, ROW)
    expect(sealed.split('.')).toHaveLength(4)
    expect(headerOf(sealed)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: keys.sealer.kid,
    })
    expect(sealed).not.toContain(SECRET)
    expect(sealed).not.toContain(toBase64Url(new TextEncoder().encode(SECRET)))
    expect(sealed).not.toContain(ROW)
    expect(decoder.decode(await openData(keys, sealed, ROW))).toBe(SECRET)
    const bytes = crypto.getRandomValues(new Uint8Array(20))
    expect(await openData(keys, await sealData(keys, bytes, ROW), ROW)).toEqual(bytes)
  })

  it('draws a new IV for every seal: the same value sealed twice gives two different strings', async () => {
    const keys = await ring(generateDataJwk())
    const [a, b] = [await sealData(keys, SECRET, ROW), await sealData(keys, SECRET, ROW)]
    expect(a).not.toBe(b)
    expect(a.split('.')[1]).not.toBe(b.split('.')[1])
    expect(a.split('.')[1]).toMatch(/^[\w-]{16}$/) // 96 bits
  })

  it("refuses a value copied to another row (other associated data): 'not_opened'", async () => {
    const keys = await ring(generateDataJwk())
    const sealed = await sealData(keys, SECRET, ROW)
    const error = await openError(openData(keys, sealed, 'totp:someone-else'))
    expect(error.code).toBe('not_opened')
    await expect(sealData(keys, SECRET, '')).rejects.toThrow(/associated data/)
  })

  it.each([
    ['the protected header', 0, ['not_opened', 'malformed']],
    ['the IV', 1, ['not_opened']],
    ['the ciphertext', 2, ['not_opened']],
    ['the tag', 3, ['not_opened']],
  ])('refuses a value whose %s was tampered with', async (_name, index, codes) => {
    const keys = await ring(generateDataJwk())
    const sealed = await sealData(keys, SECRET, ROW)
    const error = await openError(openData(keys, tamper(sealed, index), ROW))
    expect(codes).toContain(error.code)
  })

  it.each([
    ['an empty string', ''],
    ['a compact JWE (five parts)', 'a.b.c.d.e'],
    ['a part outside base64url', 'a.b+.c.d'],
    ['a header that is not JSON', `${toBase64Url(new TextEncoder().encode('nope'))}.AAAA.AAAA.AAAA`],
  ])("refuses %s as 'malformed'", async (_name, sealed) => {
    const keys = await ring(generateDataJwk())
    expect((await openError(openData(keys, sealed, ROW))).code).toBe('malformed')
  })

  it('refuses a header that asks for another algorithm (A128GCM), whatever its kid', async () => {
    const keys = await ring(generateDataJwk())
    const sealed = await sealData(keys, SECRET, ROW)
    const header = { alg: 'dir', enc: 'A128GCM', kid: keys.sealer.kid }
    const swapped = [
      toBase64Url(new TextEncoder().encode(JSON.stringify(header))),
      ...sealed.split('.').slice(1),
    ]
    expect((await openError(openData(keys, swapped.join('.'), ROW))).code).toBe('malformed')
  })

  it("refuses a value sealed under a key the set no longer holds: 'unknown_key'", async () => {
    const old = generateDataJwk()
    const sealed = await sealData(await ring(old), SECRET, ROW)
    const error = await openError(openData(await ring(generateDataJwk()), sealed, ROW))
    expect(error.code).toBe('unknown_key')
  })
})

describe('rotation', () => {
  it('a new key prepended seals from then on; values sealed under the old one still open', async () => {
    const old = generateDataJwk()
    const before = await ring(old)
    const sealedBefore = await sealData(before, SECRET, ROW)
    const next = generateDataJwk()
    const after = await ring(next, old)
    expect(after.sealer.kid).toBe(next.kid)
    expect(decoder.decode(await openData(after, sealedBefore, ROW))).toBe(SECRET)
    const sealedAfter = await sealData(after, SECRET, ROW)
    expect(headerOf(sealedAfter).kid).toBe(next.kid)
    // Re-sealed values open with the new key alone, so the old one can then be dropped.
    expect(decoder.decode(await openData(await ring(next), sealedAfter, ROW))).toBe(SECRET)
  })
})

describe('loading DATA_KEYS', () => {
  it('imports a set once per isolate and secret value (the same ring for the same string)', async () => {
    const secret = keySet(generateDataJwk())
    expect(await loadDataKeys(secret)).toBe(await loadDataKeys(secret))
    const ringKey = (await loadDataKeys(secret)).sealer.key
    expect(ringKey.extractable).toBe(false)
    expect(ringKey.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 })
  })

  it.each([
    ['missing', undefined, /is not set/],
    ['empty', '', /is not set/],
    ['not JSON', '{keys:', /not valid JSON/],
    ['without keys', '{"keys":[]}', /at least one key/],
    ['a signing key (EC) in it', keySet({ kty: 'EC', kid: 'x', alg: 'A256GCM', k: 'A'.repeat(43) }), /kty/],
    ['another algorithm', keySet({ ...generateDataJwk(), alg: 'A128GCM' }), /alg/],
    ['a 128-bit key', keySet({ ...generateDataJwk(), k: toBase64Url(new Uint8Array(16)) }), /256-bit/],
    ['a kid that is not URL-safe', keySet({ ...generateDataJwk(), kid: '../etc' }), /kid/],
    [
      'two keys with one kid',
      keySet({ ...generateDataJwk(), kid: 'same' }, { ...generateDataJwk(), kid: 'same' }),
      /duplicate kid "same"/,
    ],
  ])(
    'fails closed on a set that is %s (503 gateway_misconfigured, the reason logged)',
    async (_name, secret, reason) => {
      const message = await refusal(secret)
      expect(message).toMatch(/^DATA_KEYS: /)
      expect(message).toMatch(reason)
    },
  )

  it('never puts key material in the reason', async () => {
    const key = generateDataJwk()
    const message = await refusal(keySet(key, { ...key }))
    expect(message).not.toContain(key.k)
  })
})
