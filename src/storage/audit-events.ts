import type { AuditEvent, AuditEventType, AuditOutcome, DetailValue } from '../audit/events'

/** The `audit_events` row as D1 returns it (migrations/0010_create_audit_events.sql). */
interface AuditRow {
  id: string
  at_ms: number
  type: string
  outcome: string
  actor_id: string | null
  subject_id: string | null
  client_id: string | null
  ip: string | null
  user_agent: string | null
  request_id: string | null
  details: string
}

export interface StoredAuditEvent extends AuditEvent {
  atMs: number
}

function parseDetails(text: string): Record<string, DetailValue> {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, DetailValue>)
      : {}
  } catch {
    return {}
  }
}

function toEvent(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    at: new Date(row.at_ms).toISOString(),
    type: row.type as AuditEventType,
    outcome: row.outcome as AuditOutcome,
    actor_id: row.actor_id,
    subject_id: row.subject_id,
    client_id: row.client_id,
    ip: row.ip,
    user_agent: row.user_agent,
    request_id: row.request_id,
    details: parseDetails(row.details),
  }
}

/** One INSERT per event, sent as one D1 batch (one round trip for a request's events). */
export async function insertAuditEvents(
  db: D1Database,
  events: readonly { atMs: number; event: AuditEvent }[],
): Promise<void> {
  if (events.length === 0) return
  const statement = db.prepare(
    `INSERT OR IGNORE INTO audit_events (id, at_ms, type, outcome, actor_id, subject_id, client_id, ip, user_agent, request_id, details)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
  )
  await db.batch(
    events.map(({ atMs, event }) =>
      statement.bind(
        event.id,
        atMs,
        event.type,
        event.outcome,
        event.actor_id,
        event.subject_id,
        event.client_id,
        event.ip,
        event.user_agent,
        event.request_id,
        JSON.stringify(event.details),
      ),
    ),
  )
}

export interface AuditQuery {
  type?: string
  actorId?: string
  subjectId?: string
  sinceMs?: number
  untilMs?: number
  /** Only events older than this id (the previous page's last id): newest first. */
  before?: string
  /** Only events newer than this id, oldest first (for following the log). */
  after?: string
  limit: number
}

/** Newest first, or oldest first when following (`after`); every filter is optional. */
export async function queryAuditEvents(db: D1Database, query: AuditQuery): Promise<AuditEvent[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM audit_events
       WHERE (?1 IS NULL OR type = ?1) AND (?2 IS NULL OR actor_id = ?2) AND (?3 IS NULL OR subject_id = ?3)
         AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms < ?5)
         AND (?6 IS NULL OR id < ?6) AND (?7 IS NULL OR id > ?7)
       ORDER BY CASE WHEN ?7 IS NULL THEN id END DESC, id ASC LIMIT ?8`,
    )
    .bind(
      query.type ?? null,
      query.actorId ?? null,
      query.subjectId ?? null,
      query.sinceMs ?? null,
      query.untilMs ?? null,
      query.before ?? null,
      query.after ?? null,
      query.limit,
    )
    .all<AuditRow>()
  return results.map(toEvent)
}

/** Retention: deletes events older than the cutoff (run by the hourly cron). */
export function deleteOldAuditEvents(db: D1Database, cutoffMs: number): D1PreparedStatement {
  return db.prepare('DELETE FROM audit_events WHERE at_ms < ?1').bind(cutoffMs)
}
