import type { GatewayConfig } from '../config/load'
import { sha256Hex } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'
import { type ApiKeyRecord, insertApiKey, listApiKeys, revokeApiKeyRow } from '../storage/api-keys'
import { withStorage } from '../storage/errors'
import { nowSeconds } from '../storage/json'
import { parseScope, scopesForRoles } from '../tokens/scopes'
import { forgetMissingApiKey, readApiKeyFromD1, writeApiKeyCache } from './cache'
import { generateApiKey } from './format'

export const MAX_API_KEY_LIFETIME_SECONDS = 5 * 365 * 86_400

export interface ApiKeyView {
  id: string
  name: string
  scopes: string[]
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

function parseExpiresIn(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 60 ||
    value > MAX_API_KEY_LIFETIME_SECONDS
  ) {
    throw new GatewayError(
      'invalid_request',
      `"expires_in" must be whole seconds between 60 and ${MAX_API_KEY_LIFETIME_SECONDS}.`,
    )
  }
  return value
}

/** Creates a key whose scopes never exceed the owner's; the plaintext is returned only here. */
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
  const allowed = scopesForRoles(input.owner.roles, config.roleClosure, config.settings.role_scopes)
  const asking = input.owner.scopes
  if (asking) for (const scope of allowed) if (!asking.includes(scope)) allowed.delete(scope)
  const excess = (requested ?? []).filter((scope) => !allowed.has(scope))
  if (excess.length > 0)
    throw new GatewayError('invalid_scope', `You do not hold the scope(s): ${excess.join(' ')}.`)
  const expiresIn = parseExpiresIn(input.expiresIn)
  const generated = generateApiKey()
  const record = await withStorage('create api key', async () =>
    insertApiKey(db, {
      id: generated.id,
      userId: input.owner.id,
      name,
      keyHash: await sha256Hex(generated.key),
      scopes: requested ?? [...allowed].sort(),
      expiresAt: expiresIn === undefined ? undefined : nowSeconds() + expiresIn,
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
): Promise<boolean> {
  if (!/^[0-9a-f]{16}$/.test(id)) return false
  const revoked = await withStorage('revoke api key', () => revokeApiKeyRow(stores.DB, id, ownerId))
  if (!revoked) return false
  const record = await readApiKeyFromD1(stores.DB, id)
  if (record) await writeApiKeyCache(stores.KV, id, record)
  return true
}
