import { parseStringList } from '../db/json'

export type GrantType = 'password' | 'refresh_token' | 'client_credentials' | 'authorization_code'

/** Who registered the client: the operator (admin API, CLI) or the client itself (RFC 7591). */
export type ClientRegistration = 'operator' | 'dynamic'

export interface OAuthClient {
  clientId: string
  /** SHA-256 (hex) of the secret; undefined for a public client. */
  secretHash?: string
  name: string
  grantTypes: GrantType[]
  scopes: string[]
  roles: string[]
  /** Exact redirect URIs for the authorization code flow (src/oauth/redirect-uri.ts). */
  redirectUris: string[]
  /** Where RP-initiated logout may send the browser afterwards. */
  postLogoutRedirectUris: string[]
  /** No consent page for scopes (roles still need one, src/oauth/interaction.ts). */
  skipConsent: boolean
  /**
   * The operator vouches for this app: its tokens are first-party (every role of the user, and the
   * account-managing endpoints). Otherwise its user tokens are delegated (docs/authorization-server.md).
   */
  firstParty: boolean
  /** Roles a delegated token of this client may act with (the user's roles ∩ these). */
  allowedRoles: string[]
  /** Browser origins, besides the redirect URIs' own, allowed CORS on the token endpoints. */
  allowedOrigins: string[]
  disabled: boolean
  /**
   * Registered by the client itself (an MCP client: RFC 7591 dynamic registration), not by the
   * operator: never first_party, its name is its own claim (the consent page says so), and an
   * authorization request without `resource` is for the MCP server (mcp/resource.ts). The
   * `registration` column: anything but `operator`.
   */
  selfRegistered?: boolean
  /**
   * Set for a client whose client_id is the URL of its Client ID Metadata Document, read from that
   * document (oauth/client-metadata-document.ts), never from D1. Shown as text only, never fetched.
   */
  metadataDocument?: { host: string; clientUri?: string; logoUri?: string }
}

export function isSelfRegistered(client: Pick<OAuthClient, 'selfRegistered'>): boolean {
  return client.selfRegistered === true
}

interface ClientRow {
  client_id: string
  secret_hash: string | null
  name: string
  grant_types: string
  scopes: string
  roles: string
  redirect_uris: string
  post_logout_redirect_uris: string
  skip_consent: number
  first_party: number
  allowed_roles: string
  allowed_origins: string
  disabled: number
  registration: string
}

function toClient(row: ClientRow): OAuthClient {
  return {
    clientId: row.client_id,
    secretHash: row.secret_hash ?? undefined,
    name: row.name,
    grantTypes: parseStringList(row.grant_types) as GrantType[],
    scopes: parseStringList(row.scopes),
    roles: parseStringList(row.roles),
    redirectUris: parseStringList(row.redirect_uris),
    postLogoutRedirectUris: parseStringList(row.post_logout_redirect_uris),
    skipConsent: row.skip_consent !== 0,
    // Fail closed: only an explicit 1 makes a client first-party.
    firstParty: row.first_party === 1,
    allowedRoles: parseStringList(row.allowed_roles),
    allowedOrigins: parseStringList(row.allowed_origins),
    disabled: row.disabled !== 0,
    // Fail closed: anything but the operator's own default reads as self-registered.
    selfRegistered: row.registration !== 'operator',
  }
}

/** A public client proves nothing about itself: it has no secret (RFC 6749 §2.1). */
export function isPublicClient(client: OAuthClient): boolean {
  return client.secretHash === undefined
}

export async function findClient(db: D1Database, clientId: string): Promise<OAuthClient | undefined> {
  const row = await db
    .prepare('SELECT * FROM oauth_clients WHERE client_id = ?1')
    .bind(clientId)
    .first<ClientRow>()
  return row ? toClient(row) : undefined
}

/**
 * What the browser origins of enabled clients are made of (src/oauth/client-origins.ts): only
 * clients that have redirect URIs or allowed origins, without their secrets or other fields. A
 * self-registered client counts once a code was issued for it (a user consented): registrations
 * alone, which anyone can make, never grow the set.
 */
export async function listEnabledClientUris(
  db: D1Database,
): Promise<Pick<OAuthClient, 'redirectUris' | 'allowedOrigins'>[]> {
  const { results } = await db
    .prepare(
      `SELECT redirect_uris, allowed_origins FROM oauth_clients
       WHERE disabled = 0 AND (redirect_uris != '[]' OR allowed_origins != '[]')
         AND (registration = 'operator' OR last_used_at IS NOT NULL)`,
    )
    .all<Pick<ClientRow, 'redirect_uris' | 'allowed_origins'>>()
  return results.map((row) => ({
    redirectUris: parseStringList(row.redirect_uris),
    allowedOrigins: parseStringList(row.allowed_origins),
  }))
}

type OptionalClientFields =
  | 'redirectUris'
  | 'postLogoutRedirectUris'
  | 'skipConsent'
  | 'firstParty'
  | 'allowedRoles'
  | 'allowedOrigins'
  | 'selfRegistered'

export type NewClient = Omit<OAuthClient, 'disabled' | OptionalClientFields> &
  Partial<Pick<OAuthClient, OptionalClientFields>>

/** Inserts a client; undefined when the id is taken. Callers validate redirect URIs first. */
export async function insertClient(db: D1Database, client: NewClient): Promise<OAuthClient | undefined> {
  const row = await db
    .prepare(
      `INSERT INTO oauth_clients (client_id, secret_hash, name, grant_types, scopes, roles, redirect_uris,
         post_logout_redirect_uris, skip_consent, first_party, allowed_roles, allowed_origins, disabled, created_at,
         registration)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?13, 0, ?10, ?14)
       ON CONFLICT(client_id) DO NOTHING RETURNING *`,
    )
    .bind(
      client.clientId,
      client.secretHash ?? null,
      client.name,
      JSON.stringify(client.grantTypes),
      JSON.stringify(client.scopes),
      JSON.stringify(client.roles),
      JSON.stringify(client.redirectUris ?? []),
      JSON.stringify(client.postLogoutRedirectUris ?? []),
      client.skipConsent ? 1 : 0,
      Math.floor(Date.now() / 1000),
      client.firstParty ? 1 : 0,
      JSON.stringify(client.allowedRoles ?? []),
      JSON.stringify(client.allowedOrigins ?? []),
      client.selfRegistered === true ? 'dynamic' : 'operator',
    )
    .first<ClientRow>()
  return row ? toClient(row) : undefined
}

/** A client as the admin API lists it (every column but the secret's hash). */
export interface ClientSummary extends OAuthClient {
  createdAt: number
  /** When a code was last issued for it (unix seconds); undefined: never. */
  lastUsedAt?: number
}

type SummaryRow = ClientRow & { created_at: number; last_used_at: number | null }

function toSummary(row: SummaryRow): ClientSummary {
  return { ...toClient(row), createdAt: row.created_at, lastUsedAt: row.last_used_at ?? undefined }
}

export async function listClients(
  db: D1Database,
  options: { after?: string; limit: number },
): Promise<ClientSummary[]> {
  const { results } = await db
    .prepare('SELECT * FROM oauth_clients WHERE (?1 IS NULL OR client_id > ?1) ORDER BY client_id LIMIT ?2')
    .bind(options.after ?? null, options.limit)
    .all<SummaryRow>()
  return results.map(toSummary)
}

export async function deleteClientRow(db: D1Database, clientId: string): Promise<boolean> {
  const row = await db
    .prepare('DELETE FROM oauth_clients WHERE client_id = ?1 RETURNING client_id')
    .bind(clientId)
    .first()
  return row !== null
}

/** What an operator may change on an existing client (PATCH /admin/clients/{id}). */
export interface ClientChanges {
  skipConsent?: boolean
  firstParty?: boolean
  allowedRoles?: readonly string[]
  allowedOrigins?: readonly string[]
  disabled?: boolean
}

/** Applies the given changes (absent fields stay); undefined when there is no such client. */
export async function updateClient(
  db: D1Database,
  clientId: string,
  changes: ClientChanges,
): Promise<ClientSummary | undefined> {
  const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0)
  const list = (value: readonly string[] | undefined) => (value === undefined ? null : JSON.stringify(value))
  const row = await db
    .prepare(
      `UPDATE oauth_clients SET skip_consent = COALESCE(?2, skip_consent), first_party = COALESCE(?3, first_party),
         allowed_roles = COALESCE(?4, allowed_roles), allowed_origins = COALESCE(?5, allowed_origins),
         disabled = COALESCE(?6, disabled)
       WHERE client_id = ?1 RETURNING *`,
    )
    .bind(
      clientId,
      flag(changes.skipConsent),
      flag(changes.firstParty),
      list(changes.allowedRoles),
      list(changes.allowedOrigins),
      flag(changes.disabled),
    )
    .first<SummaryRow>()
  return row ? toSummary(row) : undefined
}

/** Replaces a confidential client's secret hash; false when there is no such confidential client. */
export async function setClientSecretHash(
  db: D1Database,
  clientId: string,
  secretHash: string,
): Promise<boolean> {
  const row = await db
    .prepare(
      'UPDATE oauth_clients SET secret_hash = ?2 WHERE client_id = ?1 AND secret_hash IS NOT NULL RETURNING client_id',
    )
    .bind(clientId, secretHash)
    .first()
  return row !== null
}

/** Marks the client used now (a code was issued for it): self-registered clients never used expire. */
export function markClientUsedStatement(db: D1Database, clientId: string, now: number): D1PreparedStatement {
  return db.prepare('UPDATE oauth_clients SET last_used_at = ?2 WHERE client_id = ?1').bind(clientId, now)
}

/**
 * Deletes self-registered clients registered before `registeredBefore` for which no code was ever
 * issued. One statement: a first code issued at the same moment either lands first (the row is
 * kept) or finds the client gone (its exchange then fails as for any deleted client).
 */
export function deleteUnusedDynamicClientsStatement(
  db: D1Database,
  registeredBefore: number,
): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM oauth_clients
       WHERE registration = 'dynamic' AND last_used_at IS NULL AND created_at < ?1`,
    )
    .bind(registeredBefore)
}
