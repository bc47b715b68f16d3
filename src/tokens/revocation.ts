import type { Principal } from '../authn/principal'
import { sha256Hex } from '../crypto/bytes'
import { uuidv7Time } from '../crypto/uuid7'
import { GatewayError } from '../errors/gateway-error'
import { withStorage } from '../storage/errors'
import { nowSeconds } from '../storage/json'
import { kvTtl, revokedJtiKey, revokedSubjectKey } from '../storage/kv-keys'
import { liveFamilyAccessTokens, revokeFamily, revokeUserRefreshTokens } from '../storage/refresh-tokens'

export interface RevocationStores {
  DB: D1Database
  KV: KVNamespace
}

function revoked(): GatewayError {
  return new GatewayError('invalid_token', 'The access token has been revoked.', {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
  })
}

/** When a token was issued, in ms: from its UUIDv7 jti, else its `iat` (seconds, rounded down). */
function issuedAtMs(principal: Principal, iat: number | undefined): number {
  const fromJti = principal.tokenId ? uuidv7Time(principal.tokenId) : undefined
  return fromJti ?? (iat ?? 0) * 1000
}

/**
 * The revocation check of the hot path. Default routes read KV only: two gets, whatever the size
 * of the denylist. KV is eventually consistent (a write can take 60 s or more to reach other
 * locations, and "absent" answers are cached there too), so routes with `revocation: "strict"`
 * ask D1 instead, which is the truth. Any storage failure fails closed (503).
 */
export async function assertNotRevoked(
  stores: RevocationStores,
  principal: Principal,
  options: { strict: boolean; iat?: number },
): Promise<void> {
  if (!principal.tokenId) return
  const jtiHash = await sha256Hex(principal.tokenId)
  const issued = issuedAtMs(principal, options.iat)
  if (options.strict) {
    const row = await withStorage('revocation check (D1)', () =>
      stores.DB.prepare(
        `SELECT (SELECT 1 FROM revoked_tokens WHERE jti_hash = ?1) AS jti_revoked,
                (SELECT not_before_ms FROM subject_revocations WHERE subject = ?2) AS not_before_ms`,
      )
        .bind(jtiHash, principal.id)
        .first<{ jti_revoked: number | null; not_before_ms: number | null }>(),
    )
    if (
      row?.jti_revoked ||
      (row?.not_before_ms !== null && row?.not_before_ms !== undefined && issued < row.not_before_ms)
    ) {
      throw revoked()
    }
    return
  }
  const [jtiEntry, notBefore] = await withStorage('revocation check (KV)', () =>
    Promise.all([stores.KV.get(revokedJtiKey(jtiHash)), stores.KV.get(revokedSubjectKey(principal.id))]),
  )
  if (jtiEntry !== null || (notBefore !== null && issued < Number(notBefore))) throw revoked()
}

/** Denies one access token until it expires: D1 first (the truth), then the KV edge copy. */
export async function revokeAccessToken(
  stores: RevocationStores,
  token: { jti: string; subject: string; expiresAt: number },
): Promise<void> {
  const jtiHash = await sha256Hex(token.jti)
  const now = nowSeconds()
  if (token.expiresAt <= now) return
  await withStorage('revoke access token', async () => {
    await stores.DB.prepare(
      'INSERT OR IGNORE INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4)',
    )
      .bind(jtiHash, token.subject, token.expiresAt, now)
      .run()
    await stores.KV.put(revokedJtiKey(jtiHash), '1', { expirationTtl: kvTtl(token.expiresAt - now) })
  })
}

/**
 * Voids every access token of a subject issued until now, and every refresh token of a user:
 * logout-all, disable, password change, admin "revoke all". The KV entry only needs to outlive
 * the longest access token.
 */
export async function revokeSubject(
  stores: RevocationStores,
  subject: string,
  accessTokenTtlSeconds: number,
): Promise<void> {
  const now = Date.now()
  await withStorage('revoke subject', async () => {
    await stores.DB.batch([
      stores.DB.prepare(
        `INSERT INTO subject_revocations (subject, not_before_ms) VALUES (?1, ?2)
         ON CONFLICT(subject) DO UPDATE SET not_before_ms = MAX(not_before_ms, ?2)`,
      ).bind(subject, now),
    ])
    await revokeUserRefreshTokens(stores.DB, subject)
    // +60 s: tokens are accepted up to the clock skew after exp; KV's own minimum is 60 s anyway.
    await stores.KV.put(revokedSubjectKey(subject), String(now), {
      expirationTtl: kvTtl(accessTokenTtlSeconds + 60),
    })
  })
}

/** Ends one login session: its refresh-token family and every live access token issued in it. */
export async function revokeSession(stores: RevocationStores, familyId: string): Promise<void> {
  const tokens = await withStorage('end session', async () => {
    await revokeFamily(stores.DB, familyId)
    return liveFamilyAccessTokens(stores.DB, familyId)
  })
  for (const token of tokens) {
    await revokeAccessToken(stores, { jti: token.jti, subject: token.user_id, expiresAt: token.expires_at })
  }
}
