/**
 * Browser sessions: created at login, resolved per request, ended by logout or revocation. The
 * cookie value is 256 random bits and only its SHA-256 is stored; every login makes a new one
 * (session fixation), and ending a session tombstones its cached copy at once.
 */
import type { Settings } from '../config/schema'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { memoizedSha256Hex } from '../crypto/hash-memo'
import { uuidv7 } from '../crypto/uuid7'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { subjectNotBeforeMs } from '../revocation'
import { type CachedSession, readSession, writeSessionCache, writeSessionTombstone } from './cache'
import { endSessionByHash, endUserSession, insertSession, listLiveSessions, touchSession } from './store'

export interface SessionStores {
  DB: D1Database
  KV: KVNamespace
}

const MAX_USER_AGENT = 256
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/

export interface NewSessionInput {
  user: { id: string; username: string; roles: string[] }
  persistent: boolean
  userAgent: string | null
  ip: string | null
  /** "password", "provider:<name>", "passkey". */
  authMethod: string
  /**
   * RFC 8176 `amr` of the sign-in (a passkey: swk/hwk, user, mfa). Not stored yet: the sessions
   * change that stores `amr` beside `authMethod` takes it from here.
   */
  amr?: readonly string[]
}

export interface CreatedSession {
  value: string
  id: string
  expiresAt: number
}

export async function createSession(
  stores: SessionStores,
  settings: Settings,
  input: NewSessionInput,
): Promise<CreatedSession> {
  const nowMs = Date.now()
  const now = Math.floor(nowMs / 1000)
  const value = randomToken()
  const tokenHash = await sha256Hex(value)
  const id = uuidv7(nowMs)
  const expiresAt = now + settings.session_lifetime_seconds
  await withStorage('create session', () =>
    insertSession(stores.DB, {
      id,
      tokenHash,
      userId: input.user.id,
      now,
      expiresAt,
      persistent: input.persistent,
      userAgent: (input.userAgent ?? '').replace(/\p{Cc}/gu, '').slice(0, MAX_USER_AGENT),
      ip: input.ip,
      authMethod: input.authMethod,
      authTime: now,
    }),
  )
  // Filled now so the first request after the login redirect needs no D1 read.
  const record: CachedSession = {
    id,
    userId: input.user.id,
    username: input.user.username,
    roles: input.user.roles,
    createdMs: nowMs,
    expiresAt,
    lastSeenAt: now,
    persistent: input.persistent,
    authTime: now,
    authMethod: input.authMethod,
    dead: false,
  }
  await writeSessionCache(stores.KV, tokenHash, record)
  return { value, id, expiresAt }
}

export function isSessionCookieShape(value: string): boolean {
  return COOKIE_VALUE.test(value)
}

/** Why a presented session is not accepted (logged, never shown beyond "sign in again"). */
export type SessionRejection = 'unknown' | 'ended' | 'expired' | 'idle' | 'revoked'

// Per isolate: when each session's last-seen time was last written (at most once a minute).
export const LAST_SEEN_INTERVAL_SECONDS = 60
const lastTouched = new Map<string, number>()

export function lastSeenFor(tokenHash: string, record: CachedSession): number {
  return Math.max(record.lastSeenAt, lastTouched.get(tokenHash) ?? 0)
}

/** Whether the record is live now; the idle bound uses the newest activity this isolate knows. */
export function sessionRejection(
  record: CachedSession | undefined,
  tokenHash: string,
  settings: Settings,
  now: number,
  notBeforeMs: number | null,
): SessionRejection | undefined {
  if (!record) return 'unknown'
  if (record.dead) return 'ended'
  if (record.expiresAt <= now) return 'expired'
  if (now - lastSeenFor(tokenHash, record) > settings.session_idle_timeout_seconds) return 'idle'
  if (notBeforeMs !== null && record.createdMs < notBeforeMs) return 'revoked'
  return undefined
}

export interface ResolveOptions {
  strict: boolean
  waitUntil: (promise: Promise<unknown>) => void
  /** Record the session's last-seen time (default). Explain does not. */
  touch?: boolean
}

/**
 * The live session a cookie value names, or the reason it is refused. Default routes: KV record +
 * the subject's KV not-before (both through 2 s isolate caches), no D1 read. Strict routes: D1.
 */
export async function resolveSession(
  stores: SessionStores,
  settings: Settings,
  value: string,
  options: ResolveOptions,
): Promise<{ record: CachedSession; tokenHash: string } | { rejected: SessionRejection }> {
  if (!isSessionCookieShape(value)) return { rejected: 'unknown' }
  const tokenHash = await memoizedSha256Hex(value)
  const record = await readSession(stores, tokenHash, options.strict)
  const notBefore =
    record && !record.dead
      ? options.strict
        ? (record.notBeforeMs ?? null)
        : await subjectNotBeforeMs(stores.KV, record.userId)
      : null
  const now = nowSeconds()
  const rejected = sessionRejection(record, tokenHash, settings, now, notBefore)
  if (rejected || !record) return { rejected: rejected ?? 'unknown' }
  if (options.touch !== false) touchLater(stores, tokenHash, now, options.waitUntil)
  return { record, tokenHash }
}

function touchLater(
  stores: SessionStores,
  tokenHash: string,
  now: number,
  waitUntil: (promise: Promise<unknown>) => void,
): void {
  if (now - (lastTouched.get(tokenHash) ?? 0) < LAST_SEEN_INTERVAL_SECONDS) return
  if (lastTouched.size > 10_000) lastTouched.clear()
  lastTouched.set(tokenHash, now)
  waitUntil(touchSession(stores.DB, tokenHash, now).catch(() => undefined))
}

/**
 * Ends the session a cookie value names (logout, or a cookie presented to the login form); returns
 * the session it ended, if it was live.
 */
export async function endSessionByValue(
  stores: SessionStores,
  value: string,
): Promise<{ id: string; user_id: string } | undefined> {
  if (!isSessionCookieShape(value)) return undefined
  const tokenHash = await sha256Hex(value)
  return endSessionByTokenHash(stores, tokenHash)
}

export async function endSessionByTokenHash(
  stores: SessionStores,
  tokenHash: string,
): Promise<{ id: string; user_id: string } | undefined> {
  const ended = await withStorage('end session', () => endSessionByHash(stores.DB, tokenHash, nowSeconds()))
  await writeSessionTombstone(stores.KV, tokenHash)
  return ended
}

/** Ends one of the user's sessions by its public id; false when the user has no such live session. */
export async function endSessionById(stores: SessionStores, userId: string, id: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/.test(id)) return false
  const tokenHash = await withStorage('end session', () =>
    endUserSession(stores.DB, userId, id, nowSeconds()),
  )
  if (!tokenHash) return false
  await writeSessionTombstone(stores.KV, tokenHash)
  return true
}

/** A session as the API and the sessions page show it: never its token hash. */
export interface SessionSummary {
  id: string
  created_at: number
  last_seen_at: number
  expires_at: number
  user_agent: string
  ip: string | null
  auth_method: string
}

/** A user's live sessions (ended, expired and idle ones left out), as `GET /auth/sessions` and the admin API list them. */
export async function listSessions(
  stores: SessionStores,
  settings: Settings,
  userId: string,
): Promise<SessionSummary[]> {
  const now = nowSeconds()
  const rows = await withStorage('list sessions', () => listLiveSessions(stores.DB, userId, now))
  return rows
    .filter((row) => now - row.last_seen_at <= settings.session_idle_timeout_seconds)
    .map((row) => ({
      id: row.id,
      created_at: row.created_at,
      last_seen_at: row.last_seen_at,
      expires_at: row.expires_at,
      user_agent: row.user_agent,
      ip: row.ip,
      auth_method: row.auth_method,
    }))
}
