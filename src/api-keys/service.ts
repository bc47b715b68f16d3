import { parseScope, scopesForRoles } from '../authz/scopes'
import type { GatewayConfig } from '../config/load'
import { sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { apiKeyTombstone, forgetMissingApiKey, readApiKeyFromD1, writeApiKeyCache } from './cache'
import { generateApiKey } from './format'
import { parseKeyRoles } from './key-roles'
import {
  type ApiKeyRecord,
  insertApiKey,
  listApiKeys,
  revokeApiKeyRow,
  revokeUserApiKeyRows,
  userKeyIds,
} from './store'

const DAY_SECONDS = 86_400
/** Shorter lifetimes are typos more often than intent (and a key is checked against KV's 60 s copy). */
export const MIN_API_KEY_LIFETIME_SECONDS = 60

export interface ApiKeyView {
  id: string
  name: string
  scopes: string[]
  /** The key's own roles; null when it acts with its owner's current roles. */
  roles: string[] | null
  created_at: number
  expires_at: number | null
  last_used_at: number | null
  revoked_at: number | null
}

export function viewApiKey(record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes,
    roles: record.roles ?? null,
    created_at: record.createdAt,
    expires_at: record.expiresAt ?? null,
    last_used_at: record.lastUsedAt ?? null,
    revoked_at: record.revokedAt ?? null,
  }
}

export interface CreateApiKeyInput {
  /**
   * `scopes`: those of the credential that asks, when there is one. A token narrowed to `read`
   * (or handed to a client for `read` only) must not mint a longer-lived key with `write`.
   */
  owner: { id: string; roles: readonly string[]; scopes?: readonly string[] }
  name: unknown
  scopes: unknown
  /** A subset of the owner's roles (after the hierarchy); absent: the owner's roles at each use. */
  roles?: unknown
  expiresIn: unknown
}

function parseName(name: unknown): string {
  if (typeof name !== 'string' || !/^[\p{L}\p{N} ._:-]{1,64}$/u.test(name)) {
    throw new GatewayError(
      'invalid_request',
      'The "name" must be 1-64 letters, digits, spaces or . _ : - characters.',
    )
  }
  return name
}

/**
 * Every key expires: `expires_in` (seconds) or `api_key_default_ttl_days`, never more than
 * `api_key_max_ttl_days`. A key that never expires outlives the people and jobs it was made for.
 */
export function parseExpiresIn(value: unknown, settings: GatewayConfig['settings']): number {
  if (value === undefined || value === null) return settings.api_key_default_ttl_days * DAY_SECONDS
  const max = settings.api_key_max_ttl_days * DAY_SECONDS
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < MIN_API_KEY_LIFETIME_SECONDS ||
    value > max
  ) {
    throw new GatewayError(
      'invalid_request',
      `"expires_in" must be whole seconds between ${MIN_API_KEY_LIFETIME_SECONDS} and ${max} (${settings.api_key_max_ttl_days} days).`,
    )
  }
  return value
}

/**
 * Creates a key whose roles and scopes never exceed the owner's (nor the asking token's scopes);
 * the plaintext is returned only here.
 */
export async function createApiKey(
  db: D1Database,
  config: GatewayConfig,
  input: CreateApiKeyInput,
): Promise<ApiKeyView & { key: string }> {
  const name = parseName(input.name)
  if (
    input.scopes !== undefined &&
    (!Array.isArray(input.scopes) || input.scopes.some((s) => typeof s !== 'string'))
  ) {
    throw new GatewayError('invalid_request', '"scopes" must be an array of strings.')
  }
  const requested = input.scopes === undefined ? undefined : parseScope((input.scopes as string[]).join(' '))
  const roles = parseKeyRoles(input.roles, input.owner.roles, config.roleClosure)
  const allowed = scopesForRoles(roles ?? input.owner.roles, config.roleClosure, config.settings.role_scopes)
  const asking = input.owner.scopes
  if (asking) for (const scope of allowed) if (!asking.includes(scope)) allowed.delete(scope)
  const excess = (requested ?? []).filter((scope) => !allowed.has(scope))
  if (excess.length > 0)
    throw new GatewayError('invalid_scope', `You do not hold the scope(s): ${excess.join(' ')}.`)
  const expiresIn = parseExpiresIn(input.expiresIn, config.settings)
  const generated = generateApiKey()
  const record = await withStorage('create api key', async () =>
    insertApiKey(db, {
      id: generated.id,
      userId: input.owner.id,
      name,
      keyHash: await sha256Hex(generated.key),
      scopes: requested ?? [...allowed].sort(),
      roles,
      expiresAt: nowSeconds() + expiresIn,
    }),
  )
  forgetMissingApiKey(record.id)
  return { ...viewApiKey(record), key: generated.key }
}

export async function listOwnApiKeys(db: D1Database, userId: string): Promise<ApiKeyView[]> {
  return (await withStorage('list api keys', () => listApiKeys(db, userId))).map(viewApiKey)
}

/**
 * Revokes a key in D1, then overwrites its KV copy with a tombstone (rather than deleting it) so
 * this location rejects it on the very next request. `ownerId` limits it to one user's keys.
 */
export async function revokeApiKey(
  stores: { DB: D1Database; KV: KVNamespace },
  id: string,
  ownerId?: string,
): Promise<{ userId: string } | undefined> {
  if (!/^[0-9a-f]{16}$/.test(id)) return undefined
  const revoked = await withStorage('revoke api key', () => revokeApiKeyRow(stores.DB, id, ownerId))
  if (!revoked) return undefined
  const record = await readApiKeyFromD1(stores.DB, id)
  if (record) await writeApiKeyCache(stores.KV, id, record)
  return { userId: revoked.userId }
}

/**
 * Ends a user's keys on disable, revoke and delete: `revoke` marks them revoked in D1 (for good);
 * either way every cached copy is overwritten with a tombstone, so default routes in this location
 * refuse them at once (elsewhere within KV's propagation), as the operator CLI does.
 */
export async function endUserApiKeys(
  stores: { DB: D1Database; KV: KVNamespace },
  userId: string,
  options: { revoke: boolean },
): Promise<number> {
  const now = nowSeconds()
  const revoked = options.revoke
    ? await withStorage('revoke api keys', () => revokeUserApiKeyRows(stores.DB, userId, now))
    : 0
  const ids = await withStorage('list api keys', () => userKeyIds(stores.DB, userId, now))
  await Promise.all(ids.map((id) => writeApiKeyCache(stores.KV, id, apiKeyTombstone(userId))))
  return revoked
}
