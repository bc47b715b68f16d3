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

/** Which flow a callback may take: the state it names, for this provider, from this browser. */
export interface LoginFlowKey {
  stateHash: string
  provider: string
  browserHash: string
}

/**
 * Deletes the flow and returns it, in one statement and only when the provider and the browser
 * binding match as well as the state: whoever deletes it first owns it, so a replayed or
 * concurrent callback finds nothing, and a callback that knows the state but comes from another
 * browser or to another provider's callback deletes nothing (it cannot cancel the sign-in of the
 * browser that started it). Expiry is checked by the caller on the row. The binding is compared
 * in SQL, not in constant time: it is a SHA-256 of a 256-bit cookie, so timing says nothing usable.
 */
export async function takeLoginFlow(db: D1Database, key: LoginFlowKey): Promise<LoginFlowRow | undefined> {
  const row = await db
    .prepare(
      'DELETE FROM login_flows WHERE state_hash = ?1 AND provider = ?2 AND browser_hash = ?3 RETURNING *',
    )
    .bind(key.stateHash, key.provider, key.browserHash)
    .first<LoginFlowRow>()
  return row ?? undefined
}

/** The provider a flow was started for, without taking it: only to log why a take found nothing. */
export async function loginFlowProvider(db: D1Database, stateHash: string): Promise<string | undefined> {
  const row = await db
    .prepare('SELECT provider FROM login_flows WHERE state_hash = ?1')
    .bind(stateHash)
    .first<{ provider: string }>()
  return row?.provider
}
