/** `passkeys` and `webauthn_challenges` rows (migrations/0017). Public keys only; no secret is stored. */

export interface PasskeyRow {
  id: string
  user_id: string
  credential_id: string
  public_key: string
  algorithm: number
  sign_count: number
  transports: string
  backed_up: number
  device_type: 'single_device' | 'multi_device'
  aaguid: string
  name: string
  created_at: number
  last_used_at: number | null
}

export type NewPasskeyRow = Omit<PasskeyRow, 'last_used_at'>

/** Inserts a passkey; false when its credential id is registered already (to anyone). */
export async function insertPasskey(db: D1Database, row: NewPasskeyRow): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO passkeys (id, user_id, credential_id, public_key, algorithm, sign_count, transports,
         backed_up, device_type, aaguid, name, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
       ON CONFLICT (credential_id) DO NOTHING RETURNING id`,
    )
    .bind(
      row.id,
      row.user_id,
      row.credential_id,
      row.public_key,
      row.algorithm,
      row.sign_count,
      row.transports,
      row.backed_up,
      row.device_type,
      row.aaguid,
      row.name,
      row.created_at,
    )
    .first<{ id: string }>()
  return inserted !== null
}

export async function findPasskeyByCredentialId(
  db: D1Database,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM passkeys WHERE credential_id = ?1')
    .bind(credentialId)
    .first<PasskeyRow>()
  return row ?? undefined
}

export async function listUserPasskeys(db: D1Database, userId: string): Promise<PasskeyRow[]> {
  const { results } = await db
    .prepare('SELECT * FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id')
    .bind(userId)
    .all<PasskeyRow>()
  return results
}

/** Renames one of the user's passkeys; false when the user has no passkey with that id. */
export async function renameUserPasskey(
  db: D1Database,
  userId: string,
  id: string,
  name: string,
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2')
    .bind(id, userId, name)
    .run()
  return (result.meta.changes ?? 0) > 0
}

/**
 * Deletes one of the user's passkeys unless it is their last way in: no usable password (NULL, or
 * the `!`-prefixed marker of an account created through a provider, which no hash format parses),
 * no other passkey, and `otherWayIn` (a linked provider identity, asked of login-providers by the
 * caller) false. One statement, so two concurrent deletes cannot each leave the other as the last.
 * An identity the caller counted cannot disappear meanwhile: unlinking refuses to remove the last
 * identity of an account without a password (login-providers/identity-store.ts).
 */
export async function deleteUserPasskey(
  db: D1Database,
  input: { userId: string; id: string; otherWayIn: boolean; force?: boolean },
): Promise<'deleted' | 'none' | 'last_way_in'> {
  const [result] = await db.batch([
    db
      .prepare(
        `DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2 AND (
           ?3 = 1
           OR EXISTS (SELECT 1 FROM users WHERE id = ?2 AND password_hash IS NOT NULL
                      AND password_hash <> '' AND substr(password_hash, 1, 1) <> '!')
           OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?2 AND id <> ?1))`,
      )
      .bind(input.id, input.userId, input.otherWayIn || input.force ? 1 : 0),
    // The second step stays on only while a factor for it remains (a passkey or TOTP, migration
    // 0016): else a password sign-in would wait for a factor the user no longer has.
    db
      .prepare(
        `UPDATE users SET mfa_enabled = 0 WHERE id = ?1 AND mfa_enabled = 1
           AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM totp_credentials WHERE user_id = ?1)`,
      )
      .bind(input.userId),
  ])
  if ((result?.meta.changes ?? 0) > 0) return 'deleted'
  const left = await db
    .prepare('SELECT 1 AS found FROM passkeys WHERE id = ?1 AND user_id = ?2')
    .bind(input.id, input.userId)
    .first()
  return left ? 'last_way_in' : 'none'
}

/**
 * Records a successful assertion: the new counter, the backup state and the time, only if the
 * counter still allows it (a larger counter, or both zero: an authenticator without one). A
 * concurrent replay of the same assertion therefore updates at most once. False: the counter moved.
 */
export async function recordPasskeyUse(
  db: D1Database,
  input: { id: string; previousCount: number; signCount: number; backedUp: boolean; now: number },
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE passkeys SET sign_count = ?3, backed_up = ?4, last_used_at = ?5
       WHERE id = ?1 AND sign_count = ?2 AND (?3 > ?2 OR (?2 = 0 AND ?3 = 0))`,
    )
    .bind(input.id, input.previousCount, input.signCount, input.backedUp ? 1 : 0, input.now)
    .run()
  return (result.meta.changes ?? 0) > 0
}

export type CeremonyPurpose = 'registration' | 'authentication'

export interface ChallengeRow {
  challenge_hash: string
  purpose: CeremonyPurpose
  user_id: string | null
  browser_hash: string
  created_at: number
  expires_at: number
}

export async function insertChallenge(db: D1Database, row: ChallengeRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO webauthn_challenges (challenge_hash, purpose, user_id, browser_hash, created_at, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    )
    .bind(row.challenge_hash, row.purpose, row.user_id, row.browser_hash, row.created_at, row.expires_at)
    .run()
}

/**
 * Takes a challenge: DELETE … RETURNING, so each one is answered at most once even under
 * concurrent submissions. The caller then checks purpose, browser, user and expiry: a challenge
 * presented wrongly is spent all the same.
 */
export async function takeChallenge(
  db: D1Database,
  challengeHash: string,
): Promise<ChallengeRow | undefined> {
  const row = await db
    .prepare('DELETE FROM webauthn_challenges WHERE challenge_hash = ?1 RETURNING *')
    .bind(challengeHash)
    .first<ChallengeRow>()
  return row ?? undefined
}

/** The hourly clean-up's statement (src/cleanup.ts): challenges nobody answered. */
export function deleteExpiredChallengesStatement(db: D1Database, now: number): D1PreparedStatement {
  return db.prepare('DELETE FROM webauthn_challenges WHERE expires_at < ?1').bind(now)
}
