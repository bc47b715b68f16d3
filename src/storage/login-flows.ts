/** `login_flows` rows (migrations/0009): one per sign-in started at a provider, single use. */

export interface LoginFlowRow {
  state_hash: string
  provider: string
  browser_hash: string
  code_verifier: string
  nonce: string | null
  return_to: string
  link_user_id: string | null
  created_at: number
  expires_at: number
}

export async function insertLoginFlow(db: D1Database, row: LoginFlowRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO login_flows (state_hash, provider, browser_hash, code_verifier, nonce, return_to,
                                link_user_id, created_at, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
    )
    .bind(
      row.state_hash,
      row.provider,
      row.browser_hash,
      row.code_verifier,
      row.nonce,
      row.return_to,
      row.link_user_id,
      row.created_at,
      row.expires_at,
    )
    .run()
}

/**
 * Deletes the flow and returns it: whoever deletes it first owns it, so a replayed or concurrent
 * callback finds nothing. Expiry and the browser binding are checked by the caller on the row.
 */
export async function takeLoginFlow(db: D1Database, stateHash: string): Promise<LoginFlowRow | undefined> {
  const row = await db
    .prepare('DELETE FROM login_flows WHERE state_hash = ?1 RETURNING *')
    .bind(stateHash)
    .first<LoginFlowRow>()
  return row ?? undefined
}
