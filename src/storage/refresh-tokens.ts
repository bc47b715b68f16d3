import { nowSeconds } from './json'

export interface RefreshTokenRow {
  token_hash: string
  family_id: string
  parent_hash: string | null
  user_id: string
  client_id: string | null
  scope: string
  issued_at: number
  expires_at: number
  used_at: number | null
  revoked_at: number | null
  successor_hash: string | null
  /** When the user last authenticated (seconds), copied to every successor; NULL before 0004. */
  auth_time: number | null
}

export async function findRefreshToken(
  db: D1Database,
  tokenHash: string,
): Promise<RefreshTokenRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?1')
    .bind(tokenHash)
    .first<RefreshTokenRow>()
  return row ?? undefined
}

export interface NewRefreshToken {
  tokenHash: string
  familyId: string
  parentHash?: string
  userId: string
  clientId?: string
  scope: string
  expiresAt: number
  authTime?: number
}

function insertStatement(db: D1Database, token: NewRefreshToken, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, scope, issued_at, expires_at, auth_time)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
    )
    .bind(
      token.tokenHash,
      token.familyId,
      token.parentHash ?? null,
      token.userId,
      token.clientId ?? null,
      token.scope,
      now,
      token.expiresAt,
      token.authTime ?? null,
    )
}

export async function insertRefreshToken(db: D1Database, token: NewRefreshToken): Promise<void> {
  await insertStatement(db, token, nowSeconds()).run()
}

/**
 * Marks `parentHash` used and inserts its successor in one transaction (a D1 batch). The UPDATE is
 * conditional on the parent being unused, unrevoked and unexpired, so of many concurrent
 * rotations exactly one sees its RETURNING row: that caller is the winner.
 */
export async function rotateRefreshToken(
  db: D1Database,
  parentHash: string,
  successor: NewRefreshToken,
): Promise<boolean> {
  const now = nowSeconds()
  const [update] = await db.batch([
    db
      .prepare(
        `UPDATE refresh_tokens SET used_at = ?2, successor_hash = ?3
         WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 RETURNING token_hash`,
      )
      .bind(parentHash, now, successor.tokenHash),
    // Only inserted when this batch's UPDATE (or a concurrent one) linked the same successor.
    db
      .prepare(
        `INSERT OR IGNORE INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, scope, issued_at, expires_at, auth_time)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
         WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?3 AND successor_hash = ?1)`,
      )
      .bind(
        successor.tokenHash,
        successor.familyId,
        parentHash,
        successor.userId,
        successor.clientId ?? null,
        successor.scope,
        now,
        successor.expiresAt,
        successor.authTime ?? null,
      ),
  ])
  return (update?.results.length ?? 0) > 0
}

/** Revokes every token of a family; returns the number newly revoked. */
export async function revokeFamily(db: D1Database, familyId: string): Promise<number> {
  const result = await db
    .prepare('UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL')
    .bind(familyId, nowSeconds())
    .run()
  return result.meta.changes ?? 0
}

/** Revokes every refresh token of a user (logout-all, disable, password change). */
export async function revokeUserRefreshTokens(db: D1Database, userId: string): Promise<number> {
  const result = await db
    .prepare('UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL')
    .bind(userId, nowSeconds())
    .run()
  return result.meta.changes ?? 0
}

export async function recordSessionAccessToken(
  db: D1Database,
  token: { jti: string; familyId: string; userId: string; expiresAt: number },
): Promise<void> {
  await db
    .prepare(
      'INSERT OR IGNORE INTO session_access_tokens (jti, family_id, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)',
    )
    .bind(token.jti, token.familyId, token.userId, token.expiresAt)
    .run()
}

/** Still-live access tokens issued in a family (to deny them when the session ends). */
/** Access tokens of a family still accepted: unexpired, or expired less than `graceSeconds` (clock skew) ago. */
export async function liveFamilyAccessTokens(
  db: D1Database,
  familyId: string,
  graceSeconds: number,
): Promise<{ jti: string; expires_at: number; user_id: string }[]> {
  const result = await db
    .prepare(
      'SELECT jti, expires_at, user_id FROM session_access_tokens WHERE family_id = ?1 AND expires_at > ?2',
    )
    .bind(familyId, nowSeconds() - graceSeconds)
    .all<{ jti: string; expires_at: number; user_id: string }>()
  return result.results
}
