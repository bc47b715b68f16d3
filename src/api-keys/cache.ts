import { fillCache, withStorage } from '../db/errors'
import { apiKeyKey, kvTtl } from '../db/kv-keys'
import { findUserById } from '../users'
import { findApiKey } from './store'

/**
 * What the hot path needs to accept a key, cached in KV so a valid key costs no D1 read. KV copies
 * live 60 s (KV's minimum TTL), which bounds how long a role change or a disabled owner takes to
 * reach keys on default routes; a revoked key is overwritten with a tombstone at once (and so are
 * every key of a user on `revoke-user` and `disable` from the operator CLI).
 */
export interface CachedApiKey {
  keyHash: string
  userId: string
  username: string
  /** The owner's current roles. */
  roles: string[]
  /** The key's own roles (capped by `roles` at use); null: the key acts with the owner's roles. */
  keyRoles?: string[] | null
  scopes: string[]
  expiresAt: number | null
  /** Revoked key, disabled owner, or deleted owner. */
  dead: boolean
}

export const API_KEY_CACHE_SECONDS = 60

function isCachedApiKey(value: unknown): value is CachedApiKey {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return (
    typeof record.keyHash === 'string' &&
    typeof record.userId === 'string' &&
    typeof record.dead === 'boolean'
  )
}

/** Reads the record from D1 (the truth); undefined when no key has that id. */
export async function readApiKeyFromD1(db: D1Database, id: string): Promise<CachedApiKey | undefined> {
  return withStorage('api key lookup (D1)', async () => {
    const key = await findApiKey(db, id)
    if (!key) return undefined
    const user = await findUserById(db, key.userId)
    return {
      keyHash: key.keyHash,
      userId: key.userId,
      username: user?.username ?? '',
      roles: user?.roles ?? [],
      keyRoles: key.roles ?? null,
      scopes: key.scopes,
      expiresAt: key.expiresAt ?? null,
      dead: key.revokedAt !== undefined || !user || user.disabled,
    }
  })
}

/**
 * The KV record that refuses a key whatever is presented: written over the cached copy when a key
 * (or every key of a user) ends, so the next request in this location refuses it instead of
 * trusting a live copy for up to API_KEY_CACHE_SECONDS. It holds no hash, so no key ever matches.
 */
export function apiKeyTombstone(userId: string): CachedApiKey {
  return {
    keyHash: '',
    userId,
    username: '',
    roles: [],
    keyRoles: null,
    scopes: [],
    expiresAt: null,
    dead: true,
  }
}

/**
 * Records read from KV are reused in this isolate for at most this long (the same bound as
 * revocation answers, REVOCATION_CACHE_MS): a revocation made in this isolate replaces the entry at
 * once; one made elsewhere reaches this isolate within this bound on top of KV's propagation.
 */
export const API_KEY_ISOLATE_CACHE_MS = 2_000
const recent = new Map<string, { record: CachedApiKey; until: number }>()

function rememberRecord(id: string, record: CachedApiKey): void {
  if (recent.size >= 10_000) recent.clear()
  recent.set(id, { record, until: Date.now() + API_KEY_ISOLATE_CACHE_MS })
}

export async function writeApiKeyCache(kv: KVNamespace, id: string, record: CachedApiKey): Promise<void> {
  rememberRecord(id, record)
  await withStorage('api key cache write', () =>
    kv.put(apiKeyKey(id), JSON.stringify(record), { expirationTtl: kvTtl(API_KEY_CACHE_SECONDS) }),
  )
}

// Ids D1 does not know, remembered per isolate so a client retrying a wrong key does not cost a
// D1 read each time. Ids are 64 random bits chosen at creation, so no real key is ever in here
// before it exists; a created key is also dropped from it (forgetMissingApiKey).
const MISSING_TTL_MS = 30_000
const missing = new Map<string, number>()

export function forgetMissingApiKey(id: string): void {
  missing.delete(id)
}

/** KV first; on a miss, D1 and a cache fill. A KV read failure fails closed (503). */
export async function readApiKey(
  stores: { DB: D1Database; KV: KVNamespace },
  id: string,
  strict: boolean,
): Promise<CachedApiKey | undefined> {
  if (strict) return readApiKeyFromD1(stores.DB, id)
  const now = Date.now()
  const hit = recent.get(id)
  if (hit && hit.until > now) return hit.record
  const cached = await withStorage('api key lookup (KV)', () => stores.KV.get(apiKeyKey(id), 'json'))
  if (isCachedApiKey(cached)) {
    rememberRecord(id, cached)
    return cached
  }
  if ((missing.get(id) ?? 0) > now) return undefined
  const record = await readApiKeyFromD1(stores.DB, id)
  if (record) await fillCache('api key', () => writeApiKeyCache(stores.KV, id, record))
  else {
    if (missing.size >= 10_000) missing.clear()
    missing.set(id, now + MISSING_TTL_MS)
  }
  return record
}
