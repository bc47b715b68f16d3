import { nowSeconds, parseStringList } from '../db/json'

/** What a user allowed a client (`consent_grants`, migration 0008). */
export interface ConsentGrant {
  userId: string
  clientId: string
  /** The client's display name, when listing. */
  clientName?: string
  scopes: string[]
  /** The roles the user let the client act with (migration 0011), as the consent page named them. */
  roles: string[]
  createdAt: number
  updatedAt: number
}

interface GrantRow {
  user_id: string
  client_id: string
  client_name?: string | null
  scope: string
  roles: string
  created_at: number
  updated_at: number
}

function toGrant(row: GrantRow): ConsentGrant {
  return {
    userId: row.user_id,
    clientId: row.client_id,
    ...(row.client_name ? { clientName: row.client_name } : {}),
    scopes: parseStringList(row.scope),
    roles: parseStringList(row.roles),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Inserts or replaces the grant's scope and role lists (the caller has merged them). */
export async function upsertConsentGrant(
  db: D1Database,
  grant: { userId: string; clientId: string; scopes: readonly string[]; roles: readonly string[] },
): Promise<ConsentGrant | undefined> {
  const row = await db
    .prepare(
      `INSERT INTO consent_grants (user_id, client_id, scope, roles, created_at, updated_at) VALUES (?1, ?2, ?3, ?5, ?4, ?4)
       ON CONFLICT(user_id, client_id) DO UPDATE SET scope = ?3, roles = ?5, updated_at = ?4 RETURNING *`,
    )
    .bind(
      grant.userId,
      grant.clientId,
      JSON.stringify(grant.scopes),
      nowSeconds(),
      JSON.stringify(grant.roles),
    )
    .first<GrantRow>()
  return row ? toGrant(row) : undefined
}

export async function findConsentGrant(
  db: D1Database,
  userId: string,
  clientId: string,
): Promise<ConsentGrant | undefined> {
  const row = await db
    .prepare('SELECT * FROM consent_grants WHERE user_id = ?1 AND client_id = ?2')
    .bind(userId, clientId)
    .first<GrantRow>()
  return row ? toGrant(row) : undefined
}

export async function listConsentGrants(db: D1Database, userId: string): Promise<ConsentGrant[]> {
  const result = await db
    .prepare(
      `SELECT g.*, c.name AS client_name FROM consent_grants g
       LEFT JOIN oauth_clients c ON c.client_id = g.client_id
       WHERE g.user_id = ?1 ORDER BY g.updated_at DESC, g.client_id`,
    )
    .bind(userId)
    .all<GrantRow>()
  return result.results.map(toGrant)
}

export async function deleteConsentGrant(db: D1Database, userId: string, clientId: string): Promise<boolean> {
  const result = await db
    .prepare('DELETE FROM consent_grants WHERE user_id = ?1 AND client_id = ?2')
    .bind(userId, clientId)
    .run()
  return (result.meta.changes ?? 0) > 0
}

/**
 * Sessions (refresh-token families) a user holds with a client: `live` ones still have an
 * unrevoked refresh token; the others come from authorization codes (a client without the refresh
 * grant has a family of access tokens only) and may hold live access tokens all the same.
 */
export async function findClientSessionFamilies(
  db: D1Database,
  userId: string,
  clientId: string,
): Promise<{ familyId: string; live: boolean }[]> {
  const result = await db
    .prepare(
      `SELECT DISTINCT family_id, 1 AS live FROM refresh_tokens
         WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL
       UNION
       SELECT family_id, 0 AS live FROM authorization_codes
         WHERE user_id = ?1 AND client_id = ?2 AND family_id IS NOT NULL`,
    )
    .bind(userId, clientId)
    .all<{ family_id: string; live: number }>()
  const families = new Map<string, boolean>()
  for (const row of result.results) families.set(row.family_id, families.get(row.family_id) || row.live === 1)
  return [...families].map(([familyId, live]) => ({ familyId, live }))
}
