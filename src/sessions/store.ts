import { parseStringList } from '../db/json'

/** The `sessions` row as D1 returns it (migrations/0007_create_sessions.sql). */
export interface SessionRow {
  id: string
  token_hash: string
  user_id: string
  created_at: number
  last_seen_at: number
  expires_at: number
  persistent: number
  user_agent: string
  ip: string | null
  auth_method: string
  auth_time: number
  /** JSON array of RFC 8176 values (0015). */
  amr: string
  ended_at: number | null
}

/** A session row with what the hot path needs of its user, read in one query. */
export interface SessionWithUser {
  session: SessionRow
  username: string
  roles: string[]
  /** The user is disabled or deleted. */
  userGone: boolean
  /** `subject_revocations.not_before_ms` of the user, when there is one. */
  notBeforeMs: number | null
}

export interface NewSession {
  id: string
  tokenHash: string
  userId: string
  now: number
  expiresAt: number
  persistent: boolean
  userAgent: string
  ip: string | null
  authMethod: string
  authTime: number
  amr: readonly string[]
}

export async function insertSession(db: D1Database, session: NewSession): Promise<void> {
  await db
    .prepare(
      `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, persistent,
                             user_agent, ip, auth_method, auth_time, amr)
       VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
    )
    .bind(
      session.id,
      session.tokenHash,
      session.userId,
      session.now,
      session.expiresAt,
      session.persistent ? 1 : 0,
      session.userAgent,
      session.ip,
      session.authMethod,
      session.authTime,
      JSON.stringify(session.amr),
    )
    .run()
}

interface JoinedRow extends SessionRow {
  username: string | null
  roles: string | null
  disabled: number | null
  not_before_ms: number | null
}

export async function findSessionWithUser(
  db: D1Database,
  tokenHash: string,
): Promise<SessionWithUser | undefined> {
  const row = await db
    .prepare(
      `SELECT s.*, u.username, u.roles, u.disabled,
              (SELECT not_before_ms FROM subject_revocations WHERE subject = s.user_id) AS not_before_ms
       FROM sessions s LEFT JOIN users u ON u.id = s.user_id
       WHERE s.token_hash = ?1`,
    )
    .bind(tokenHash)
    .first<JoinedRow>()
  if (!row) return undefined
  const { username, roles, disabled, not_before_ms, ...session } = row
  return {
    session,
    username: username ?? '',
    roles: parseStringList(roles),
    userGone: username === null || disabled !== 0,
    notBeforeMs: not_before_ms,
  }
}

/** The user's sessions that have neither ended nor passed their absolute expiry, newest first. */
export async function listLiveSessions(db: D1Database, userId: string, now: number): Promise<SessionRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM sessions WHERE user_id = ?1 AND ended_at IS NULL AND expires_at > ?2
       ORDER BY created_at DESC, id DESC LIMIT 100`,
    )
    .bind(userId, now)
    .all<SessionRow>()
  return results
}

/** Ends one session by its cookie hash; returns the live row it ended (id and user), if any. */
export async function endSessionByHash(
  db: D1Database,
  tokenHash: string,
  now: number,
): Promise<{ id: string; user_id: string } | undefined> {
  const row = await db
    .prepare(
      'UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL RETURNING id, user_id',
    )
    .bind(tokenHash, now)
    .first<{ id: string; user_id: string }>()
  return row ?? undefined
}

/** Ends one of `userId`'s sessions by public id; the cookie hash when it was live, else undefined. */
export async function endUserSession(
  db: D1Database,
  userId: string,
  id: string,
  now: number,
): Promise<string | undefined> {
  const row = await db
    .prepare(
      `UPDATE sessions SET ended_at = ?3
       WHERE id = ?1 AND user_id = ?2 AND ended_at IS NULL AND expires_at > ?3 RETURNING token_hash`,
    )
    .bind(id, userId, now)
    .first<{ token_hash: string }>()
  return row?.token_hash
}

/** Ends every session of a user (logout-all, password change, disable, revoke-user). */
export async function endAllUserSessions(db: D1Database, userId: string, now: number): Promise<number> {
  const result = await db
    .prepare('UPDATE sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL')
    .bind(userId, now)
    .run()
  return result.meta.changes ?? 0
}

/** Records activity; the condition makes a write from a second isolate in the same minute a no-op. */
export async function touchSession(db: D1Database, tokenHash: string, now: number): Promise<void> {
  await db
    .prepare('UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1 AND last_seen_at < ?2')
    .bind(tokenHash, now)
    .run()
}
