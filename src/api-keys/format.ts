import { randomBytes, toBase64Url } from '../crypto/bytes'

/**
 * `gwk_<id>_<secret>`: a fixed prefix so leaked keys are greppable (and secret scanners can match
 * them), 16 hex characters of id to look the key up by, then 256 bits of secret.
 */
export const API_KEY_PREFIX = 'gwk_'
const API_KEY_SHAPE = /^gwk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export interface GeneratedApiKey {
  id: string
  key: string
}

export function generateApiKey(): GeneratedApiKey {
  const id = Array.from(randomBytes(8), (byte) => byte.toString(16).padStart(2, '0')).join('')
  return { id, key: `${API_KEY_PREFIX}${id}_${toBase64Url(randomBytes(32))}` }
}

/** The id of a well-formed key, else undefined (never throws: callers decide the error). */
export function apiKeyId(key: string): string | undefined {
  return API_KEY_SHAPE.exec(key)?.[1]
}
