/**
 * `totp_credentials` and `recovery_codes` (migration 0016; docs/storage-schema.md), and the
 * `users.mfa_enabled` flag their changes move. Every statement that decides (a step used, a code
 * spent) is one conditional statement: D1 runs each atomically on its primary, so of two requests
 * carrying the same code exactly one gets a row back.
 */

export interface TotpRow {
  user_id: string
  /** Sealed under DATA_KEYS, bound to `totpBinding(user_id)`. */
  secret: string
  created_at: number
  confirmed_at: number
  last_used_step: number
  last_used_at: number | null
}

/** The associated data a TOTP secret is sealed with: the row it belongs to. */
export function totpBinding(userId: string): string {
  return `totp:${userId}`
}

export function findTotp(db: D1Database, userId: string): Promise<TotpRow | null> {
  return db.prepare('SELECT * FROM totp_credentials WHERE user_id = ?1').bind(userId).first<TotpRow>()
}

/**
 * Records `step` as used if it is later than the last used one; false when it is not (a replay,
 * or a concurrent request with the same code that won).
 */
export async function claimStep(db: D1Database, userId: string, step: number, now: number): Promise<boolean> {
  const row = await db
    .prepare(
      `UPDATE totp_credentials SET last_used_step = ?2, last_used_at = ?3
       WHERE user_id = ?1 AND last_used_step < ?2 RETURNING user_id`,
    )
    .bind(userId, step, now)
    .first()
  return row !== null
}

/**
 * Deletes the user's recovery codes and inserts new ones, each statement only while the user's
 * TOTP row is there (and, given `sealedSecret`, is that very enrolment): in a batch, a TOTP removed
 * or won by another confirmation meanwhile leaves the codes alone.
 */
function replaceRecoveryCodesStatements(
  db: D1Database,
  input: { userId: string; hashes: readonly string[]; now: number; sealedSecret?: string },
): D1PreparedStatement[] {
  const { userId, now } = input
  const owner = 'EXISTS (SELECT 1 FROM totp_credentials WHERE user_id = ?1 AND (?2 IS NULL OR secret = ?2))'
  const secret = input.sealedSecret ?? null
  return [
    db.prepare(`DELETE FROM recovery_codes WHERE user_id = ?1 AND ${owner}`).bind(userId, secret),
    ...input.hashes.map((hash) =>
      db
        .prepare(
          `INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT ?1, ?3, ?4 WHERE ${owner}`,
        )
        .bind(userId, secret, hash, now),
    ),
  ]
}

/**
 * Stores a confirmed TOTP (its confirming step already used), its recovery codes, and turns the
 * second step on, in one batch (a D1 batch is one transaction). False when the user already has
 * one: enrolling again means removing the old one first.
 */
export async function insertConfirmedTotp(
  db: D1Database,
  input: {
    userId: string
    sealedSecret: string
    step: number
    recoveryHashes: readonly string[]
    now: number
  },
): Promise<boolean> {
  const { userId, now } = input
  const existing = await findTotp(db, userId)
  if (existing) return false
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO totp_credentials (user_id, secret, created_at, confirmed_at, last_used_step, last_used_at)
         VALUES (?1, ?2, ?3, ?3, ?4, ?3) ON CONFLICT(user_id) DO NOTHING`,
      )
      .bind(userId, input.sealedSecret, now, input.step),
    ...replaceRecoveryCodesStatements(db, {
      userId,
      hashes: input.recoveryHashes,
      now,
      sealedSecret: input.sealedSecret,
    }),
    db.prepare('UPDATE users SET mfa_enabled = 1, updated_at = ?2 WHERE id = ?1').bind(userId, now),
  ])
  // Lost a race with another confirmation of the same user: nothing of ours was written but the
  // flag, which the winner set too.
  return (results[0]?.meta.changes ?? 0) > 0
}

/** Replaces the user's recovery codes (only while TOTP exists); false without TOTP. */
export async function replaceRecoveryCodes(
  db: D1Database,
  userId: string,
  hashes: readonly string[],
  now: number,
): Promise<boolean> {
  const results = await db.batch(replaceRecoveryCodesStatements(db, { userId, hashes, now }))
  return (results[1]?.meta.changes ?? 0) > 0
}

/** Spends a recovery code; false when it is unknown or already used. */
export async function spendRecoveryCode(
  db: D1Database,
  userId: string,
  hash: string,
  now: number,
): Promise<boolean> {
  const row = await db
    .prepare(
      `UPDATE recovery_codes SET used_at = ?3
       WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL RETURNING code_hash`,
    )
    .bind(userId, hash, now)
    .first()
  return row !== null
}

export async function unusedRecoveryCodes(db: D1Database, userId: string): Promise<number> {
  const n = await db
    .prepare('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL')
    .bind(userId)
    .first<number>('n')
  return n ?? 0
}

/**
 * How many passkeys the user has: a passkey is a second factor too, so removing TOTP does not turn
 * the second step off while one remains. One read of the passkeys room's table (migration 0017):
 * the rooms share a floor, so neither imports the other.
 */
export async function countPasskeys(db: D1Database, userId: string): Promise<number> {
  const row = await db
    .prepare('SELECT COUNT(*) AS n FROM passkeys WHERE user_id = ?1')
    .bind(userId)
    .first<{ n: number }>()
  return row?.n ?? 0
}

/**
 * Removes TOTP and the recovery codes; the second step stays on only while `keepMfa` (another
 * factor remains). True when there was a TOTP to remove.
 */
export async function deleteTotp(
  db: D1Database,
  userId: string,
  options: { keepMfa: boolean; now: number },
): Promise<{ removedTotp: boolean; removedCodes: number }> {
  const results = await db.batch([
    db.prepare('DELETE FROM totp_credentials WHERE user_id = ?1').bind(userId),
    db.prepare('DELETE FROM recovery_codes WHERE user_id = ?1').bind(userId),
    db
      .prepare('UPDATE users SET mfa_enabled = ?2, updated_at = ?3 WHERE id = ?1 AND mfa_enabled != ?2')
      .bind(userId, options.keepMfa ? 1 : 0, options.now),
  ])
  return {
    removedTotp: (results[0]?.meta.changes ?? 0) > 0,
    removedCodes: results[1]?.meta.changes ?? 0,
  }
}
