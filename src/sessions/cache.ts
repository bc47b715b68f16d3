import { uuidv7Time } from '../crypto/uuid7'
import { fillCache, withStorage } from '../db/errors'
import { parseStringList } from '../db/json'
import { kvTtl, sessionKey } from '../db/kv-keys'
import { findSessionWithUser } from './store'

/**
 * What the hot path needs to accept a session cookie, cached exactly like API keys
 * (src/api-keys/cache.ts): a KV copy keyed by the cookie's hash lives 60 s (KV's minimum TTL), and
 * each isolate reuses a record it read for 2 s. So a valid session costs no D1 read on default
 * routes. That bounds how long a role change or a disabled user takes to reach sessions (60 s +
 * 2 s); ending a session overwrites its KV copy with a tombstone at once, and ending every session
 * of a user also moves the user's `revoked:sub:` not-before, which the loader checks per request.
 */
export interface CachedSession {
  id: string
  userId: string
  username: string
  roles: string[]
  /** Creation time in ms (the UUIDv7 id's timestamp), compared with the subject's not-before. */
  createdMs: number
  /** Absolute end, unix seconds. */
  expiresAt: number
  /** Last activity recorded in D1, unix seconds. */
  lastSeenAt: number
  persistent: boolean
  /** When the user signed in (unix seconds); absent in records cached before. */
  authTime?: number
  /** Ended (logout, revocation), or the user is disabled or deleted. */
  dead: boolean
  /** How the user signed in: "password" or "provider:<name>" (absent in records cached before 0009). */
  authMethod?: string
  /** RFC 8176 methods of the sign-in (absent in records cached before 0015: see sessionAmr). */
  amr?: string[]
  /** `subject_revocations.not_before_ms` as D1 had it (strict reads only). */
  notBeforeMs?: number | null
}

export const SESSION_CACHE_SECONDS = 60
export const SESSION_ISOLATE_CACHE_MS = 2_000
const ISOLATE_CAPACITY = 10_000

function isCachedSession(value: unknown): value is CachedSession {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return (
    typeof record.id === 'string' &&
    typeof record.userId === 'string' &&
    typeof record.createdMs === 'number' &&
    typeof record.expiresAt === 'number' &&
    typeof record.lastSeenAt === 'number' &&
    typeof record.dead === 'boolean' &&
    Array.isArray(record.roles)
  )
}

/** The record from D1 (the truth); undefined when no session has that hash. */
export async function readSessionFromD1(
  db: D1Database,
  tokenHash: string,
): Promise<CachedSession | undefined> {
  const found = await withStorage('session lookup (D1)', () => findSessionWithUser(db, tokenHash))
  if (!found) return undefined
  const { session } = found
  return {
    id: session.id,
    userId: session.user_id,
    username: found.username,
    roles: found.roles,
    createdMs: uuidv7Time(session.id) ?? session.created_at * 1000,
    expiresAt: session.expires_at,
    lastSeenAt: session.last_seen_at,
    persistent: session.persistent !== 0,
    authTime: session.auth_time,
    authMethod: session.auth_method,
    amr: parseStringList(session.amr),
    dead: session.ended_at !== null || found.userGone,
    notBeforeMs: found.notBeforeMs,
  }
}

// Hashes D1 does not know, remembered per isolate so a browser that keeps sending the cookie of a
// deleted session does not cost a D1 read per request. A new session's hash is 256 random bits,
// so it is never in here before it exists.
const MISSING_TTL_MS = 30_000
const missing = new Map<string, number>()

const recent = new Map<string, { record: CachedSession; until: number }>()

function remember(tokenHash: string, record: CachedSession): void {
  if (recent.size >= ISOLATE_CAPACITY) recent.clear()
  recent.set(tokenHash, { record, until: Date.now() + SESSION_ISOLATE_CACHE_MS })
}

export async function writeSessionCache(
  kv: KVNamespace,
  tokenHash: string,
  record: CachedSession,
): Promise<void> {
  const { notBeforeMs: _strictOnly, ...cached } = record
  remember(tokenHash, cached)
  await withStorage('session cache write', () =>
    kv.put(sessionKey(tokenHash), JSON.stringify(cached), { expirationTtl: kvTtl(SESSION_CACHE_SECONDS) }),
  )
}

/** Replaces the cached copy with a tombstone (this isolate at once, other locations within KV's bound). */
export async function writeSessionTombstone(
  kv: KVNamespace,
  tokenHash: string,
  record?: CachedSession,
): Promise<void> {
  const base: CachedSession = record ?? {
    id: '',
    userId: '',
    username: '',
    roles: [],
    createdMs: 0,
    expiresAt: 0,
    lastSeenAt: 0,
    persistent: false,
    dead: true,
  }
  await writeSessionCache(kv, tokenHash, { ...base, roles: [], dead: true })
}

/** KV first (through the isolate cache); on a miss, D1 and a cache fill. Strict routes read D1 only. */
export async function readSession(
  stores: { DB: D1Database; KV: KVNamespace },
  tokenHash: string,
  strict: boolean,
): Promise<CachedSession | undefined> {
  if (strict) return readSessionFromD1(stores.DB, tokenHash)
  const hit = recent.get(tokenHash)
  if (hit && hit.until > Date.now()) return hit.record
  const cached = await withStorage('session lookup (KV)', () => stores.KV.get(sessionKey(tokenHash), 'json'))
  if (isCachedSession(cached)) {
    remember(tokenHash, cached)
    return cached
  }
  const now = Date.now()
  if ((missing.get(tokenHash) ?? 0) > now) return undefined
  const record = await readSessionFromD1(stores.DB, tokenHash)
  if (record) await fillCache('session', () => writeSessionCache(stores.KV, tokenHash, record))
  else {
    if (missing.size >= ISOLATE_CAPACITY) missing.clear()
    missing.set(tokenHash, now + MISSING_TTL_MS)
  }
  return record
}
