/**
 * The DATA_KEYS secret: the keys that seal stored secrets (crypto/data-seal.ts). A JSON set like
 * SIGNING_KEYS, `{"keys":[{"kty":"oct","kid":"...","alg":"A256GCM","k":"<32 bytes base64url>"}]}`:
 * the first key seals, every key opens; rotation prepends a key and keeps the old ones until every
 * value sealed under them has been re-sealed. Random keys of their own, derived from nothing else
 * (a leaked signing key or pepper opens nothing).
 *
 * Optional until a feature stores a sealed value: only a request that needs the keys loads them,
 * and a missing or malformed set fails that request closed (503 `gateway_misconfigured`, the reason
 * in the log), never the gateway as a whole.
 */
import * as z from 'zod/mini'
import './zod-locale'
import { newKeyId, randomBytes, toBase64Url } from '../crypto/bytes'
import type { DataKeyRing } from '../crypto/data-seal'
import { GatewayError } from '../errors/gateway-error'
import { importedPerSecret, parseKeySetSecret } from './secret-key-set'

const dataJwk = z.looseObject({
  kty: z.literal('oct'),
  kid: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 URL-safe characters')),
  alg: z.literal('A256GCM'),
  // 32 bytes in base64url without padding: 43 characters (AES-256).
  k: z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 256-bit key (43 base64url characters)')),
})

const keySet = z.object({ keys: z.array(dataJwk).check(z.minLength(1, 'must hold at least one key')) })

function misconfigured(reason: string): GatewayError {
  return new GatewayError('gateway_misconfigured', 'The gateway is misconfigured.', {
    cause: new Error(`DATA_KEYS: ${reason}`),
  })
}

async function importDataKeys(secret: string): Promise<DataKeyRing> {
  const set = parseKeySetSecret(keySet, secret, misconfigured)
  const openers = new Map<string, CryptoKey>()
  for (const jwk of set.keys) {
    if (openers.has(jwk.kid)) throw misconfigured(`duplicate kid "${jwk.kid}"`)
    try {
      // Only the key material: `key_ops`, `ext` and the like cannot widen or narrow its use.
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty: 'oct', k: jwk.k, alg: 'A256GCM' },
        { name: 'AES-GCM' },
        false,
        ['encrypt', 'decrypt'],
      )
      openers.set(jwk.kid, key)
    } catch {
      throw misconfigured(`key "${jwk.kid}" cannot be imported`)
    }
  }
  const first = set.keys[0] as z.infer<typeof dataJwk>
  return { sealer: { kid: first.kid, key: openers.get(first.kid) as CryptoKey }, openers }
}

const importedDataKeys = importedPerSecret(importDataKeys)

/** The DATA_KEYS ring, or 503 `gateway_misconfigured` when it is missing or malformed. */
export function loadDataKeys(secret: string | undefined): Promise<DataKeyRing> {
  if (!secret)
    return Promise.reject(misconfigured('is not set (wrangler secret put DATA_KEYS, or .dev.vars locally)'))
  return importedDataKeys(secret)
}

/** A fresh key for DATA_KEYS (used by `npm run keys` and `npm start`). */
export function generateDataJwk(): { kty: 'oct'; kid: string; alg: 'A256GCM'; k: string } {
  return { kty: 'oct', kid: newKeyId(), alg: 'A256GCM', k: toBase64Url(randomBytes(32)) }
}
