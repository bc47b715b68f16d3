import { nowSeconds, parseStringList } from '../db/json'

export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  keyHash: string
  scopes: string[]
  /** The roles the key acts with; undefined: the owner's current roles. */
  roles?: string[]
  createdAt: number
  expiresAt?: number
  lastUsedAt?: number
  revokedAt?: number
}

/** The `api_keys` row as D1 returns it. */
export interface ApiKeyRow {
  id: string
  user_id: string
  name: string
  key_hash: string
  scopes: string
  /** JSON array, or NULL for "the owner's roles" (migration 0004). */
  roles: string | null
  created_at: number
  expires_at: number | null
  last_used_at: number | null
  revoked_at: number | null
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    keyHash: row.key_hash,
    scopes: parseStringList(row.scopes),
    roles: row.roles === null || row.roles === undefined ? undefined : parseStringList(row.roles),
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? undefined,
    lastUsedAt: row.last_used_at ?? undefined,
    revokedAt: row.revoked_at ?? undefined,
  }
}

export async function insertApiKey(
  db: D1Database,
  key: Omit<ApiKeyRecord, 'createdAt'>,
): Promise<ApiKeyRecord> {
  const row = await db
    .prepare(
      `INSERT INTO api_keys (id, user_id, name, key_hash, scopes, roles, created_at, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING *`,
    )
    .bind(
      key.id,
      key.userId,
      key.name,
      key.keyHash,
      JSON.stringify(key.scopes),
      key.roles === undefined ? null : JSON.stringify(key.roles),
      nowSeconds(),
      key.expiresAt ?? null,
    )
    .first<ApiKeyRow>()
  if (!row) throw new Error('api key insert returned no row')
  return toRecord(row)
}

export async function findApiKey(db: D1Database, id: string): Promise<ApiKeyRecord | undefined> {
  const row = await db.prepare('SELECT * FROM api_keys WHERE id = ?1').bind(id).first<ApiKeyRow>()
  return row ? toRecord(row) : undefined
}

export async function listApiKeys(db: D1Database, userId?: string): Promise<ApiKeyRecord[]> {
  const statement = userId
    ? db.prepare('SELECT * FROM api_keys WHERE user_id = ?1 ORDER BY created_at, id').bind(userId)
    : db.prepare('SELECT * FROM api_keys ORDER BY created_at, id LIMIT 1000')
  const result = await statement.all<ApiKeyRow>()
  return result.results.map(toRecord)
}

/** Revokes a key (of `userId` when given); returns the record when something was revoked. */
export async function revokeApiKeyRow(
  db: D1Database,
  id: string,
  userId?: string,
): Promise<ApiKeyRecord | undefined> {
  const row = await db
    .prepare(
      `UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR user_id = ?3) RETURNING *`,
    )
    .bind(id, nowSeconds(), userId ?? null)
    .first<ApiKeyRow>()
  return row ? toRecord(row) : undefined
}

/** Written at most once a minute per key: the condition makes concurrent writers no-ops. */
export async function touchApiKey(db: D1Database, id: string, now: number): Promise<void> {
  await db
    .prepare(
      'UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2 - 60)',
    )
    .bind(id, now)
    .run()
}

/** One page of keys ordered by id (random, so a stable order), of one user or all. */
export async function pageApiKeys(
  db: D1Database,
  options: { userId?: string; after?: string; limit: number },
): Promise<ApiKeyRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM api_keys WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR id > ?2)
       ORDER BY id LIMIT ?3`,
    )
    .bind(options.userId ?? null, options.after ?? null, options.limit)
    .all<ApiKeyRow>()
  return results.map(toRecord)
}

/** Ids of a user's keys that a KV copy may still hold as live (unexpired; revoked ones too). */
export async function userKeyIds(db: D1Database, userId: string, now: number): Promise<string[]> {
  const { results } = await db
    .prepare('SELECT id FROM api_keys WHERE user_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)')
    .bind(userId, now)
    .all<{ id: string }>()
  return results.map((row) => row.id)
}

/** Revokes every live key of a user; the number revoked. */
export async function revokeUserApiKeyRows(db: D1Database, userId: string, now: number): Promise<number> {
  const result = await db
    .prepare('UPDATE api_keys SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL')
    .bind(userId, now)
    .run()
  return result.meta.changes ?? 0
}
