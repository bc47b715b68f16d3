/**
 * Ending every session of a user from the CLI, as `revokeSubject` in src/sessions/revoke-subject.ts
 * does inside the Worker: D1 first (the truth that strict routes read), then the KV edge copy that
 * default routes read. API keys are ended the same way (D1, then KV tombstones), as
 * `revokeApiKey` in src/api-keys/service.ts does for one key.
 */
import { API_KEY_CACHE_SECONDS, API_KEY_ISOLATE_CACHE_MS, apiKeyTombstone } from '../../src/api-keys/cache'
import { apiKeyKey, kvTtl, revokedSubjectKey } from '../../src/db/kv-keys'
import { out } from './admin-command'
import { putKv, putKvBulk } from './admin-d1'
import { NOW_MS, NOW_SECONDS, type SqlFragment, sql } from './admin-sql'
import { type AdminTarget, describeTarget } from './admin-target'

// The schema's upper bounds (config/schema.ts): a TTL that is always long enough when the config
// cannot be read.
const MAX_ACCESS_TOKEN_TTL_SECONDS = 86_400
const MAX_CLOCK_SKEW_SECONDS = 300

/**
 * Statements that void every access token of the user issued until now (subject_revocations,
 * stamped with D1's clock), revoke every refresh token and end every browser session. The first
 * returns `not_before_ms`, the second one row per revoked refresh token, the third one row per
 * ended browser session (callers destructure the results in this order).
 */
export function revokeUserStatements(username: string): SqlFragment[] {
  return [
    sql`INSERT INTO subject_revocations (subject, not_before_ms)
        SELECT id, ${NOW_MS} FROM users WHERE username = ${username}
        ON CONFLICT(subject) DO UPDATE SET not_before_ms = MAX(not_before_ms, excluded.not_before_ms)
        RETURNING subject, not_before_ms`,
    sql`UPDATE refresh_tokens SET revoked_at = ${NOW_SECONDS}
        WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE username = ${username})
        RETURNING family_id`,
    // Browser sessions outlive the KV not-before: their rows end too (as revokeSubject does).
    sql`UPDATE sessions SET ended_at = ${NOW_SECONDS}
        WHERE ended_at IS NULL AND user_id IN (SELECT id FROM users WHERE username = ${username})
        RETURNING id`,
  ]
}

/**
 * How long the KV entry must live, as revokeSubject in the Worker computes it: tokens issued
 * before the revocation are accepted until `exp` plus the clock skew, so the denial must last the
 * access-token lifetime plus the skew (both from wrangler.toml). Reading the config loads
 * wrangler's API, which takes a moment, so callers start this before their D1 call.
 */
export async function revocationTtlSeconds(target: AdminTarget, configPath: string): Promise<number> {
  try {
    const [{ readWorkerVars }, { settingsSchema }] = await Promise.all([
      import('./wrangler-config'),
      import('../../src/config/schema'),
    ])
    const vars = readWorkerVars(configPath, target.env)
    const raw = typeof vars.SETTINGS === 'string' ? JSON.parse(vars.SETTINGS) : (vars.SETTINGS ?? {})
    const settings = settingsSchema.safeParse(raw)
    if (settings.success) {
      return kvTtl(settings.data.access_token_ttl_seconds + settings.data.clock_skew_seconds)
    }
  } catch {
    // Fall through: the longest lifetime the schema allows is always long enough.
  }
  return kvTtl(MAX_ACCESS_TOKEN_TTL_SECONDS + MAX_CLOCK_SKEW_SECONDS)
}

export interface RevocationOutcome {
  userId: string
  notBeforeMs: number
  sessions: number
}

/** Reads what `revokeUserStatements` returned. */
export function readRevocation(
  revocationRows: Record<string, unknown>[],
  refreshRows: Record<string, unknown>[],
): RevocationOutcome | undefined {
  const row = revocationRows[0]
  if (!row || typeof row.subject !== 'string' || typeof row.not_before_ms !== 'number') return undefined
  const sessions = new Set(refreshRows.map((token) => token.family_id)).size
  return { userId: row.subject, notBeforeMs: row.not_before_ms, sessions }
}

/** Writes the KV edge copy and tells the operator what each kind of route sees, and when. */
export async function publishRevocation(
  target: AdminTarget,
  outcome: RevocationOutcome,
  ttl: Promise<number>,
): Promise<void> {
  const ttlSeconds = await ttl
  const key = revokedSubjectKey(outcome.userId)
  out(
    `ended every session: ${outcome.sessions} refresh-token session(s) revoked; access tokens issued before ${new Date(outcome.notBeforeMs).toISOString()} are void`,
  )
  out('routes with revocation = "strict" check D1 and refuse those tokens at once')
  try {
    await putKv(target, key, String(outcome.notBeforeMs), ttlSeconds)
    out(
      `default routes read the KV edge copy ${key} (written now with a ${ttlSeconds} s TTL, as the Worker writes it on logout-all): KV takes up to 60 s to reach every location, and each isolate may reuse an earlier answer for 2 s`,
    )
  } catch (error) {
    process.stderr.write(
      `warning: the KV edge copy ${key} was not written (${describe(error)}) in ${describeTarget(target)} KV.\n` +
        `  Default routes accept access tokens already issued until they expire (at most ${ttlSeconds} s);\n` +
        '  strict routes refuse them already. Retry the command to write the copy.\n',
    )
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** revoke-user ends every credential: every API key of the user is revoked in D1 (one row each). */
export function revokeUserApiKeysStatement(username: string): SqlFragment {
  return sql`UPDATE api_keys SET revoked_at = ${NOW_SECONDS}
      WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE username = ${username})
      RETURNING id`
}

/**
 * The user's keys that a KV copy may still hold as live (not expired; revoked ones included, so
 * running the command again rewrites tombstones whose first write failed).
 */
export function userApiKeysStatement(username: string): SqlFragment {
  return sql`SELECT id FROM api_keys
      WHERE user_id IN (SELECT id FROM users WHERE username = ${username})
        AND (expires_at IS NULL OR expires_at > ${NOW_SECONDS})`
}

/**
 * Overwrites the KV copies of the user's keys with tombstones, as revokeApiKey does in the Worker:
 * without them a location that cached a key keeps accepting it on default routes until its copy
 * expires (API_KEY_CACHE_SECONDS). Strict routes read D1 and refuse the keys already.
 */
export async function publishApiKeyTombstones(
  target: AdminTarget,
  userId: string,
  keyRows: Record<string, unknown>[],
  what: string,
): Promise<void> {
  const ids = keyRows.map((row) => row.id).filter((id): id is string => typeof id === 'string')
  out(`${what}: routes with revocation = "strict" read D1 and refuse the user's API keys at once`)
  if (ids.length === 0) return
  const tombstone = JSON.stringify(apiKeyTombstone(userId))
  try {
    await putKvBulk(
      target,
      ids.map((id) => ({ key: apiKeyKey(id), value: tombstone })),
      kvTtl(API_KEY_CACHE_SECONDS),
    )
    out(
      `default routes: ${ids.length} API key tombstone(s) apikey:<id> written to KV now: refused at once in this location; elsewhere once KV propagates (up to 60 s) plus ${API_KEY_ISOLATE_CACHE_MS / 1000} s of per-isolate caching`,
    )
  } catch (error) {
    process.stderr.write(
      `warning: the KV tombstones of ${ids.length} API key(s) were not written (${describe(error)}) in ${describeTarget(target)} KV.\n` +
        `  Default routes may accept those keys until their cached copies expire (at most ${API_KEY_CACHE_SECONDS} s plus KV propagation);\n` +
        '  strict routes refuse them already. Retry the command to write the tombstones.\n',
    )
  }
}
