/** `external_identities` rows (migrations/0009): (provider, subject) → local user. No provider tokens. */
import { nowSeconds } from '../db/json'

export interface IdentityRow {
  provider: string
  subject: string
  user_id: string
  email: string | null
  display: string
  created_at: number
  last_login_at: number | null
}

export interface IdentityInput {
  provider: string
  subject: string
  userId: string
  email: string | null
  display: string
}

export async function findIdentity(
  db: D1Database,
  provider: string,
  subject: string,
): Promise<IdentityRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM external_identities WHERE provider = ?1 AND subject = ?2')
    .bind(provider, subject)
    .first<IdentityRow>()
  return row ?? undefined
}

export function insertIdentityStatement(db: D1Database, input: IdentityInput, now = nowSeconds()) {
  return db
    .prepare(
      `INSERT INTO external_identities (provider, subject, user_id, email, display, created_at, last_login_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)`,
    )
    .bind(input.provider, input.subject, input.userId, input.email, input.display, now)
}

/** Links an identity; false when (provider, subject) is already linked (to anyone). */
export async function insertIdentity(db: D1Database, input: IdentityInput): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO external_identities (provider, subject, user_id, email, display, created_at, last_login_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
       ON CONFLICT (provider, subject) DO NOTHING RETURNING provider`,
    )
    .bind(input.provider, input.subject, input.userId, input.email, input.display, nowSeconds())
    .first<{ provider: string }>()
  return row !== null
}

export async function touchIdentity(
  db: D1Database,
  provider: string,
  subject: string,
  email: string | null,
  display: string,
): Promise<void> {
  await db
    .prepare(
      `UPDATE external_identities SET last_login_at = ?3, email = ?4, display = ?5
       WHERE provider = ?1 AND subject = ?2`,
    )
    .bind(provider, subject, nowSeconds(), email, display)
    .run()
}

export async function listUserIdentities(db: D1Database, userId: string): Promise<IdentityRow[]> {
  const { results } = await db
    .prepare('SELECT * FROM external_identities WHERE user_id = ?1 ORDER BY provider, created_at')
    .bind(userId)
    .all<IdentityRow>()
  return results
}

/**
 * Unlinks the user's identities at `provider`, unless that would leave no way to sign in: the user
 * keeps a usable password or an identity at another provider. One statement, so two concurrent
 * unlinks cannot each leave the other as the last way in. "none" when nothing was linked.
 */
export async function deleteUserIdentities(
  db: D1Database,
  userId: string,
  provider: string,
  unusablePrefix: string,
): Promise<'deleted' | 'none' | 'last_way_in'> {
  const result = await db
    .prepare(
      `DELETE FROM external_identities WHERE user_id = ?1 AND provider = ?2 AND (
         (SELECT substr(password_hash, 1, length(?3)) FROM users WHERE id = ?1) <> ?3
         OR EXISTS (SELECT 1 FROM external_identities WHERE user_id = ?1 AND provider <> ?2))`,
    )
    .bind(userId, provider, unusablePrefix)
    .run()
  if ((result.meta.changes ?? 0) > 0) return 'deleted'
  const left = await db
    .prepare('SELECT 1 AS found FROM external_identities WHERE user_id = ?1 AND provider = ?2')
    .bind(userId, provider)
    .first()
  return left ? 'last_way_in' : 'none'
}
