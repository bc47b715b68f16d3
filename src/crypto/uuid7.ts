import { randomBytes } from './bytes'

/**
 * RFC 9562 UUIDv7: a millisecond timestamp then randomness. Used as the `jti` of access tokens so
 * that "every token issued before T" can be decided at millisecond precision (the `iat` claim has
 * only seconds, and a logout and a new login can share a second).
 */
export function uuidv7(now = Date.now()): string {
  const bytes = randomBytes(16)
  const high = Math.floor(now / 2 ** 16)
  bytes[0] = (high >>> 24) & 0xff
  bytes[1] = (high >>> 16) & 0xff
  bytes[2] = (high >>> 8) & 0xff
  bytes[3] = high & 0xff
  bytes[4] = (now >>> 8) & 0xff
  bytes[5] = now & 0xff
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f)
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f)
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The millisecond timestamp of a UUIDv7, or undefined for anything else. */
export function uuidv7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}
