import { nowSeconds } from '../db/json'

/** One row of `authorization_codes` (migration 0008); the code itself is never stored. */
export interface AuthorizationCodeRow {
  code_hash: string
  client_id: string
  user_id: string
  redirect_uri: string
  code_challenge: string
  scope: string
  nonce: string | null
  auth_time: number
  amr: string
  browser_session_id: string | null
  issued_at: number
  expires_at: number
  used_at: number | null
  family_id: string | null
  replayed_at: number | null
  /** The RFC 8707 resource the client asked for (migration 0012); NULL: the gateway's audience. */
  resource: string | null
  /** The `acr` the request asked for and the sign-in achieved (migration 0015); NULL: none asked. */
  acr: string | null
}

export type NewAuthorizationCode = Omit<AuthorizationCodeRow, 'used_at' | 'family_id' | 'replayed_at'>

export function insertAuthorizationCodeStatement(
  db: D1Database,
  code: NewAuthorizationCode,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, nonce,
         auth_time, amr, browser_session_id, issued_at, expires_at, resource, acr)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`,
    )
    .bind(
      code.code_hash,
      code.client_id,
      code.user_id,
      code.redirect_uri,
      code.code_challenge,
      code.scope,
      code.nonce,
      code.auth_time,
      code.amr,
      code.browser_session_id,
      code.issued_at,
      code.expires_at,
      code.resource,
      code.acr,
    )
}

export async function findAuthorizationCode(
  db: D1Database,
  codeHash: string,
): Promise<AuthorizationCodeRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM authorization_codes WHERE code_hash = ?1')
    .bind(codeHash)
    .first<AuthorizationCodeRow>()
  return row ?? undefined
}

/**
 * Marks the code used, only if it is unused and unexpired. One statement, so of any number of
 * concurrent redemptions exactly one gets the row back (no read-then-write race).
 */
export async function redeemAuthorizationCode(db: D1Database, codeHash: string): Promise<boolean> {
  const now = nowSeconds()
  const row = await db
    .prepare(
      `UPDATE authorization_codes SET used_at = ?2
       WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING code_hash`,
    )
    .bind(codeHash, now)
    .first<{ code_hash: string }>()
  return row !== null
}

/** Links the session the redemption created to the code, so a replay can end it. */
export async function recordCodeFamily(db: D1Database, codeHash: string, familyId: string): Promise<void> {
  await db
    .prepare('UPDATE authorization_codes SET family_id = ?2 WHERE code_hash = ?1')
    .bind(codeHash, familyId)
    .run()
}

/** Flags a replay and returns the session the first redemption created (if it got that far). */
export async function markCodeReplayed(
  db: D1Database,
  codeHash: string,
): Promise<{ family_id: string | null } | undefined> {
  const row = await db
    .prepare(
      `UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, ?2)
       WHERE code_hash = ?1 RETURNING family_id`,
    )
    .bind(codeHash, nowSeconds())
    .first<{ family_id: string | null }>()
  return row ?? undefined
}

export async function wasCodeReplayed(db: D1Database, codeHash: string): Promise<boolean> {
  const row = await db
    .prepare('SELECT replayed_at FROM authorization_codes WHERE code_hash = ?1')
    .bind(codeHash)
    .first<{ replayed_at: number | null }>()
  return row?.replayed_at !== null && row?.replayed_at !== undefined
}
