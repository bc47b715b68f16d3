import type { Principal } from '../authz/principal'
import { sha256Hex } from '../crypto/bytes'
import { uuidv7Time } from '../crypto/uuid7'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { kvTtl, revokedJtiKey, revokedSubjectKey } from '../db/kv-keys'
import { GatewayError } from '../errors/gateway-error'

export interface RevocationStores {
  DB: D1Database
  KV: KVNamespace
}

function revoked(): GatewayError {
  return new GatewayError('invalid_token', 'The access token has been revoked.', {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
  })
}

/** When a token was issued, in ms: from its UUIDv7 jti, else its `iat` (seconds, rounded down). */
function issuedAtMs(principal: Principal, iat: number | undefined): number {
  const fromJti = principal.tokenId ? uuidv7Time(principal.tokenId) : undefined
  return fromJti ?? (iat ?? 0) * 1000
}

/**
 * KV revocation answers are reused in this isolate for at most this long, so a hot client's
 * requests do not each pay a KV read. A revocation made in this isolate updates the cache at
 * once; one made elsewhere reaches this isolate within this bound (on top of KV's propagation).
 */
export const REVOCATION_CACHE_MS = 2_000
const REVOCATION_CACHE_CAPACITY = 50_000
const answers = new Map<string, { value: string | null; until: number }>()

function remember(key: string, value: string | null, now: number): void {
  if (answers.size >= REVOCATION_CACHE_CAPACITY) {
    const oldest = answers.keys().next()
    if (!oldest.done) answers.delete(oldest.value)
  }
  answers.set(key, { value, until: now + REVOCATION_CACHE_MS })
}

/**
 * One KV operation whatever the number of keys: a token's subject and jti keys usually miss the
 * cache together (they were remembered together), and a bulk get is one round trip where two gets
 * are two (in production as in the simulated KV of `npm run bench`).
 */
async function readKeys(kv: KVNamespace, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 1) return [await kv.get(keys[0] as string)]
  const found = await kv.get([...keys], 'text')
  return keys.map((key) => found.get(key) ?? null)
}

async function readRevocationKeys(kv: KVNamespace, keys: readonly string[]): Promise<(string | null)[]> {
  const now = Date.now()
  const values: (string | null | undefined)[] = []
  let misses = 0
  for (const key of keys) {
    const hit = answers.get(key)
    const value = hit && hit.until > now ? hit.value : undefined
    if (value === undefined) misses++
    values.push(value)
  }
  // On a hit, the check is these map lookups and nothing else.
  if (misses === 0) return values as (string | null)[]
  const missing = keys.filter((_, index) => values[index] === undefined)
  const fetched = await withStorage('revocation check (KV)', () => readKeys(kv, missing))
  let next = 0
  return keys.map((key, index) => {
    const known = values[index]
    if (known !== undefined) return known
    const value = fetched[next++] ?? null
    remember(key, value, now)
    return value
  })
}

// The KV keys of a principal, built once per principal object (a cached token's requests share it).
const keysOf = new WeakMap<Principal, readonly string[]>()

function revocationKeysOf(principal: Principal, jtiHash: string | undefined): readonly string[] {
  let keys = keysOf.get(principal)
  if (!keys) {
    keys = jtiHash
      ? [revokedSubjectKey(principal.id), revokedJtiKey(jtiHash)]
      : [revokedSubjectKey(principal.id)]
    keysOf.set(principal, keys)
  }
  return keys
}

/**
 * The revocation check of the hot path. Default routes read KV only: one bulk get of the subject
 * and jti keys, whatever the size of the denylist. KV is eventually consistent (a write can take 60 s or more to reach other
 * locations, and "absent" answers are cached there too), so routes with `revocation: "strict"`
 * ask D1 instead, which is the truth. Any storage failure fails closed (503).
 */
export async function assertNotRevoked(
  stores: RevocationStores,
  principal: Principal,
  options: { strict: boolean; iat?: number },
): Promise<void> {
  // A token without `jti` (some external IdPs omit it) cannot be denied one by one, but its
  // subject's not-before still applies: logout-all or disable must not skip it.
  if (principal.tokenId) principal.tokenIdHash ??= await sha256Hex(principal.tokenId)
  const jtiHash = principal.tokenIdHash
  const issued = issuedAtMs(principal, options.iat)
  if (options.strict) {
    const row = await withStorage('revocation check (D1)', () =>
      stores.DB.prepare(
        `SELECT (SELECT 1 FROM revoked_tokens WHERE jti_hash = ?1) AS jti_revoked,
                (SELECT not_before_ms FROM subject_revocations WHERE subject = ?2) AS not_before_ms`,
      )
        .bind(jtiHash ?? '', principal.id)
        .first<{ jti_revoked: number | null; not_before_ms: number | null }>(),
    )
    if (
      row?.jti_revoked ||
      (row?.not_before_ms !== null && row?.not_before_ms !== undefined && issued < row.not_before_ms)
    ) {
      throw revoked()
    }
    return
  }
  const keys = revocationKeysOf(principal, jtiHash)
  const [notBefore, jtiEntry = null] = await readRevocationKeys(stores.KV, keys)
  if (jtiEntry !== null || (notBefore !== null && notBefore !== undefined && issued < Number(notBefore)))
    throw revoked()
}

/**
 * The subject's not-before (ms) from KV, through the same isolate cache as the token check; null
 * when there is none. Browser sessions compare it with their creation time (src/sessions).
 */
export async function subjectNotBeforeMs(kv: KVNamespace, subject: string): Promise<number | null> {
  const [value] = await readRevocationKeys(kv, [revokedSubjectKey(subject)])
  return value === null || value === undefined ? null : Number(value)
}

/** The largest `clock_skew_seconds` the settings schema allows (config/schema.ts). */
export const MAX_CLOCK_SKEW_SECONDS = 300

export interface DenyOptions {
  /**
   * Tokens are accepted up to the clock skew after `exp`, so a denial must outlive `exp` by as
   * much. Callers pass the configured `clock_skew_seconds`; without it, the largest allowed.
   */
  clockSkewSeconds?: number
}

/** Denies one access token until it is no longer accepted: D1 first (the truth), then the KV edge copy. */
export async function revokeAccessToken(
  stores: RevocationStores,
  token: { jti: string; subject: string; expiresAt: number },
  options: DenyOptions = {},
): Promise<void> {
  const jtiHash = await sha256Hex(token.jti)
  const now = nowSeconds()
  const acceptedUntil = token.expiresAt + (options.clockSkewSeconds ?? MAX_CLOCK_SKEW_SECONDS)
  if (acceptedUntil <= now) return
  await withStorage('revoke access token', async () => {
    await stores.DB.prepare(
      'INSERT OR IGNORE INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4)',
    )
      .bind(jtiHash, token.subject, token.expiresAt, now)
      .run()
    await stores.KV.put(revokedJtiKey(jtiHash), '1', { expirationTtl: kvTtl(acceptedUntil - now) })
    remember(revokedJtiKey(jtiHash), '1', Date.now())
  })
}

/**
 * Voids every access token of `subject` issued until now: takes the not-before instant, one
 * millisecond past the clock, and stores it in D1 (the truth) and KV (the edge copy). Returns the
 * instant (ms). Callers end the refresh tokens first (sessions/revoke-subject.ts says why).
 */
export async function denySubject(
  stores: RevocationStores,
  subject: string,
  accessTokenTtlSeconds: number,
  options: DenyOptions = {},
): Promise<number> {
  return withStorage('revoke subject', async () => {
    const notBefore = Date.now() + 1
    await stores.DB.prepare(
      `INSERT INTO subject_revocations (subject, not_before_ms) VALUES (?1, ?2)
       ON CONFLICT(subject) DO UPDATE SET not_before_ms = MAX(not_before_ms, ?2)`,
    )
      .bind(subject, notBefore)
      .run()
    // Tokens issued before `notBefore` are accepted until their exp plus the clock skew, at the latest.
    await stores.KV.put(revokedSubjectKey(subject), String(notBefore), {
      expirationTtl: kvTtl(accessTokenTtlSeconds + (options.clockSkewSeconds ?? MAX_CLOCK_SKEW_SECONDS)),
    })
    // Else this isolate would keep answering from a cached "not revoked" for up to REVOCATION_CACHE_MS.
    remember(revokedSubjectKey(subject), String(notBefore), Date.now())
    // Tokens issued after this returns must be valid (the new session of a password change), so
    // the clock must be past the instant; it almost always is already, after two writes.
    while (Date.now() < notBefore) await scheduler.wait(1)
    return notBefore
  })
}
