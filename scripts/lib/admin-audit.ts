/**
 * Audit rows for what the CLI does to D1 directly (with --url the gateway records them itself):
 * one INSERT appended to the command's own batch, so the change and its record commit together.
 * The actor is the operator's shell, not a principal: `actor_id` is NULL and `user_agent` says so.
 */
import type { AuditEventType } from '../../src/audit/events'
import { uuidv7 } from '../../src/crypto/uuid7'
import { NOW_MS, type SqlFragment, sql } from './admin-sql'

const CLI_AGENT = 'npm run admin (D1)'

function row(type: AuditEventType, details: Record<string, unknown>) {
  return { id: uuidv7(), type, details: JSON.stringify({ ...details, via: 'cli' }) }
}

/**
 * An event about a user, by username or by id (subject: its id, looked up in the same batch, so
 * nothing is recorded when no such user exists, or when a create-user insert hit a taken name).
 * `when` narrows it further: a condition on the user's row that says the change took effect.
 */
export function userAuditStatement(
  type: AuditEventType,
  user: { username: string } | { id: string },
  details: Record<string, unknown> = {},
  when?: SqlFragment,
): SqlFragment {
  const event = row(type, details)
  const who = 'id' in user ? sql`id = ${user.id}` : sql`username = ${user.username}`
  const where = when === undefined ? who : sql`${who} AND ${when}`
  return sql`INSERT INTO audit_events (id, at_ms, type, outcome, actor_id, subject_id, client_id, ip, user_agent, request_id, details)
    SELECT ${event.id}, ${NOW_MS}, ${event.type}, 'success', NULL, id, NULL, NULL, ${CLI_AGENT}, NULL, ${event.details}
    FROM users WHERE ${where}`
}

/** client_created, recorded only if the client row is the one this batch inserted (`marker`). */
export function clientCreatedAuditStatement(
  clientId: string,
  marker: SqlFragment,
  details: Record<string, unknown> = {},
): SqlFragment {
  const event = row('client_created', details)
  return sql`INSERT INTO audit_events (id, at_ms, type, outcome, actor_id, subject_id, client_id, ip, user_agent, request_id, details)
    SELECT ${event.id}, ${NOW_MS}, ${event.type}, 'success', NULL, NULL, client_id, NULL, ${CLI_AGENT}, NULL, ${event.details}
    FROM oauth_clients WHERE client_id = ${clientId} AND ${marker}`
}
