import { deleteOldAuditEvents } from './audit'
import { nowSeconds } from './db/json'
import { deleteDeadEmailTokensStatement } from './email'
import { deleteUnusedDynamicClientsStatement } from './oauth'
import { deleteExpiredChallengesStatement } from './passkeys'
import { deleteExpiredSeals } from './tokens'

/** Slack after `expires_at` before a row is deleted: longer than any clock skew a token is accepted within. */
export const CLEANUP_GRACE_SECONDS = 3_600

export interface CleanupReport {
  revokedTokens: number
  sessionAccessTokens: number
  refreshTokens: number
  authFailures: number
  /** Sealed refresh-token successors whose grace window is over (tokens/successor-seal.ts). */
  sealedSuccessors: number
  /** Browser sessions past their absolute expiry, or ended over a day ago. */
  browserSessions: number
  /** Authorization codes a day past their 60 s lifetime (replay marks included). */
  authorizationCodes: number
  /** Sign-ins started at a provider and never finished (login_flows rows live 10 minutes). */
  loginFlows: number
  /** Audit events older than `audit_retention_days`. */
  auditEvents: number
  /** Self-registered clients (RFC 7591) for which no code was issued within `unused_expiry_hours`. */
  unusedDynamicClients: number
  /** Passkey ceremony challenges past their 5 minutes (single use: an answered one is gone already). */
  webauthnChallenges: number
  /** Emailed links and codes past their expiry, or used (the email throttle's rows are authFailures). */
  emailTokens: number
}

export interface CleanupOptions {
  /** SETTINGS.audit_retention_days; without it audit events are kept. */
  auditRetentionDays?: number
  /** SETTINGS.dynamic_clients.unused_expiry_hours; without it no client is deleted. */
  unusedClientExpiryHours?: number
}

/**
 * Deletes rows that can no longer matter: denylist entries and session records of tokens that
 * have expired, expired refresh tokens, throttling rows whose windows and locks are over, and
 * sealed refresh-token successors whose grace window is over (a rotation anywhere deletes those
 * too, so this bounds how long one can outlive its window on an idle gateway), and audit events
 * older than `audit_retention_days` (SETTINGS), and self-registered clients never used within
 * `dynamic_clients.unused_expiry_hours`, and emailed links and codes that expired or were used
 * (the email flows' throttle rows live in auth_failures and go with the other throttling rows).
 * Run hourly by the cron trigger in wrangler.toml; safe to run at any time.
 */
export async function deleteExpiredRows(
  db: D1Database,
  now = nowSeconds(),
  options: CleanupOptions = {},
): Promise<CleanupReport> {
  const cutoff = now - CLEANUP_GRACE_SECONDS
  const retention = options.auditRetentionDays
  // Without a retention (no valid config) nothing is deleted: an audit trail is never cut short by accident.
  const auditCutoffMs = retention === undefined ? 0 : (now - retention * 86_400) * 1000
  const clientExpiry = options.unusedClientExpiryHours
  const clientCutoff = clientExpiry === undefined ? 0 : now - clientExpiry * 3_600
  const [
    revoked,
    sessions,
    refresh,
    failures,
    seals,
    browserSessions,
    codes,
    flows,
    audit,
    clients,
    challenges,
    emailTokens,
  ] = await db.batch([
    db.prepare('DELETE FROM revoked_tokens WHERE expires_at < ?1').bind(cutoff),
    db.prepare('DELETE FROM session_access_tokens WHERE expires_at < ?1').bind(cutoff),
    db.prepare('DELETE FROM refresh_tokens WHERE expires_at < ?1').bind(cutoff),
    // A day past its window start and not locked: its counts no longer affect any decision.
    db
      .prepare('DELETE FROM auth_failures WHERE window_start < ?1 AND locked_until < ?2')
      .bind(now - 86_400, now),
    deleteExpiredSeals(db, now),
    // Browser sessions past their absolute expiry, or ended: kept a day so the sessions page and an
    // operator looking into a logout still see them.
    db.prepare('DELETE FROM sessions WHERE expires_at < ?1 OR ended_at < ?2').bind(cutoff, now - 86_400),
    // Kept a day after expiry so a late replay still finds the code and revokes what it issued.
    db.prepare('DELETE FROM authorization_codes WHERE expires_at < ?1').bind(now - 86_400),
    db.prepare('DELETE FROM login_flows WHERE expires_at < ?1').bind(now),
    deleteOldAuditEvents(db, auditCutoffMs),
    // Registrations nobody used: anyone may make them, so unused ones do not pile up.
    deleteUnusedDynamicClientsStatement(db, clientCutoff),
    deleteExpiredChallengesStatement(db, now),
    deleteDeadEmailTokensStatement(db, now),
  ])
  return {
    revokedTokens: revoked?.meta.changes ?? 0,
    sessionAccessTokens: sessions?.meta.changes ?? 0,
    refreshTokens: refresh?.meta.changes ?? 0,
    authFailures: failures?.meta.changes ?? 0,
    sealedSuccessors: seals?.meta.changes ?? 0,
    browserSessions: browserSessions?.meta.changes ?? 0,
    authorizationCodes: codes?.meta.changes ?? 0,
    loginFlows: flows?.meta.changes ?? 0,
    auditEvents: audit?.meta.changes ?? 0,
    unusedDynamicClients: clients?.meta.changes ?? 0,
    webauthnChallenges: challenges?.meta.changes ?? 0,
    emailTokens: emailTokens?.meta.changes ?? 0,
  }
}
