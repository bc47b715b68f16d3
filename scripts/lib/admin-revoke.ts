/**
 * Ending every session of a user from the CLI, as `revokeSubject` in src/tokens/revocation.ts
 * does inside the Worker: D1 first (the truth that strict routes read), then the KV edge copy that
 * default routes read.
 */
import { kvTtl, revokedSubjectKey } from '../../src/storage/kv-keys'
import { out } from './admin-command'
import { putKv } from './admin-d1'
import { NOW_MS, NOW_SECONDS, type SqlFragment, sql } from './admin-sql'
import { type AdminTarget, describeTarget } from './admin-target'

// The schema's upper bounds (config/schema.ts): a TTL that is always long enough when the config
// cannot be read.
const MAX_ACCESS_TOKEN_TTL_SECONDS = 86_400
const MAX_CLOCK_SKEW_SECONDS = 300

/**
 * Statements that void every access token of the user issued until now (subject_revocations,
 * stamped with D1's clock), revoke every refresh token and end every browser session. The first
 * returns `not_before_ms`, the second one row per revoked refresh token.
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
        WHERE ended_at IS NULL AND user_id IN (SELECT id FROM users WHERE username = ${username})`,
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
