import { nowSeconds } from '../db/json'

/**
 * A client that retries a refresh (lost response, two tabs) within this window gets the same
 * successor instead of tripping reuse detection, as Supabase does with its 10 s reuse interval.
 * Outside it, presenting a used token revokes the whole family; and the sealed successor that
 * makes the retry possible is cleared once the window is over.
 */
export const REFRESH_REUSE_GRACE_SECONDS = 10

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
  /** 1: the family issues first-party tokens; 0 (the default): delegated ones (migration 0011). */
  first_party: number
  /** The RFC 8707 resource its access tokens are for (`aud`); NULL: the gateway's (migration 0012). */
  resource: string | null
  /** JSON array: RFC 8176 `amr` of the sign-in, copied to every successor; NULL before 0015. */
  amr: string | null
  /** The `acr` the authorization request achieved, copied like amr; NULL: none asked (0015). */
  acr: string | null
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
  firstParty: boolean
  /** An MCP resource (RFC 8707); absent: the gateway's own audience. */
  resource?: string
  /** RFC 8176 `amr` of the sign-in the family started from. */
  amr?: readonly string[]
  acr?: string
}

function insertStatement(db: D1Database, token: NewRefreshToken, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, scope, issued_at, expires_at, auth_time, first_party, resource, amr, acr)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)`,
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
      token.firstParty ? 1 : 0,
      token.resource ?? null,
      token.amr ? JSON.stringify(token.amr) : null,
      token.acr ?? null,
    )
}

export async function insertRefreshToken(db: D1Database, token: NewRefreshToken): Promise<void> {
  await insertStatement(db, token, nowSeconds()).run()
}

/**
 * Marks `parentHash` used and inserts its successor in one transaction (a D1 batch). The UPDATE is
 * conditional on the parent being unused, unrevoked and unexpired, so of many concurrent
 * rotations exactly one sees its RETURNING row: that caller is the winner, and only its successor
 * and sealed successor are stored. The same batch deletes seals that can no longer serve a retry:
 * the grandparent's (its successor, the parent, is being used now) and every one whose grace
 * window is over, so the seal table holds only the last few seconds' rotations.
 */
export async function rotateRefreshToken(
  db: D1Database,
  parent: { tokenHash: string; parentHash: string | null },
  successor: NewRefreshToken & { sealed: string },
): Promise<boolean> {
  const now = nowSeconds()
  // Each INSERT runs only if this batch's UPDATE linked this (random, unique) successor.
  const linked = 'EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?1 AND successor_hash = ?2)'
  const [update] = await db.batch([
    db
      .prepare(
        `UPDATE refresh_tokens SET used_at = ?2, successor_hash = ?3
         WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 RETURNING token_hash`,
      )
      .bind(parent.tokenHash, now, successor.tokenHash),
    db
      .prepare(
        `INSERT OR IGNORE INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, scope, issued_at, expires_at, auth_time, first_party, resource, amr, acr)
         SELECT ?2, ?3, ?1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE ${linked}`,
      )
      .bind(
        parent.tokenHash,
        successor.tokenHash,
        successor.familyId,
        successor.userId,
        successor.clientId ?? null,
        successor.scope,
        now,
        successor.expiresAt,
        successor.authTime ?? null,
        successor.firstParty ? 1 : 0,
        successor.resource ?? null,
        successor.amr ? JSON.stringify(successor.amr) : null,
        successor.acr ?? null,
      ),
    db
      .prepare(
        `INSERT OR IGNORE INTO refresh_token_successors (parent_hash, sealed, rotated_at)
         SELECT ?1, ?3, ?4 WHERE ${linked}`,
      )
      .bind(parent.tokenHash, successor.tokenHash, successor.sealed, now),
    db.prepare('DELETE FROM refresh_token_successors WHERE parent_hash = ?1').bind(parent.parentHash),
    deleteExpiredSeals(db, now),
  ])
  return (update?.results.length ?? 0) > 0
}

/** Deletes every sealed successor whose grace window is over (also run by the hourly clean-up). */
export function deleteExpiredSeals(db: D1Database, now = nowSeconds()): D1PreparedStatement {
  return db
    .prepare('DELETE FROM refresh_token_successors WHERE rotated_at < ?1')
    .bind(now - REFRESH_REUSE_GRACE_SECONDS)
}

/** A rotated parent with what became of its successor, and its seal (for a retry within the window). */
export interface RotatedParent extends RefreshTokenRow {
  successor_sealed: string | null
  successor_used_at: number | null
  successor_revoked_at: number | null
  successor_present: number
}

export async function findRotatedParent(
  db: D1Database,
  parentHash: string,
): Promise<RotatedParent | undefined> {
  const row = await db
    .prepare(
      `SELECT p.*, x.sealed AS successor_sealed, s.used_at AS successor_used_at,
              s.revoked_at AS successor_revoked_at, s.token_hash IS NOT NULL AS successor_present
       FROM refresh_tokens p
       LEFT JOIN refresh_tokens s ON s.token_hash = p.successor_hash
       LEFT JOIN refresh_token_successors x ON x.parent_hash = p.token_hash
       WHERE p.token_hash = ?1`,
    )
    .bind(parentHash)
    .first<RotatedParent>()
  return row ?? undefined
}

/** Whether a refresh token still exists unrevoked (the refresh grant's final check). */
export async function isRefreshTokenLive(db: D1Database, tokenHash: string): Promise<boolean> {
  const row = await db
    .prepare('SELECT 1 AS live FROM refresh_tokens WHERE token_hash = ?1 AND revoked_at IS NULL')
    .bind(tokenHash)
    .first<{ live: number }>()
  return row !== null
}

/** Revokes every token of a family and deletes its seals; returns the number newly revoked. */
export async function revokeFamily(db: D1Database, familyId: string): Promise<number> {
  const [revoked] = await db.batch([
    db
      .prepare('UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL')
      .bind(familyId, nowSeconds()),
    db
      .prepare(
        'DELETE FROM refresh_token_successors WHERE parent_hash IN (SELECT token_hash FROM refresh_tokens WHERE family_id = ?1)',
      )
      .bind(familyId),
  ])
  return revoked?.meta.changes ?? 0
}

/** Revokes every refresh token of a user (logout-all, disable, password change) and deletes their seals. */
export async function revokeUserRefreshTokens(db: D1Database, userId: string): Promise<number> {
  const [revoked] = await db.batch([
    db
      .prepare('UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL')
      .bind(userId, nowSeconds()),
    db
      .prepare(
        'DELETE FROM refresh_token_successors WHERE parent_hash IN (SELECT token_hash FROM refresh_tokens WHERE user_id = ?1)',
      )
      .bind(userId),
  ])
  return revoked?.meta.changes ?? 0
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
