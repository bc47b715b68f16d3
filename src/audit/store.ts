import type { AuditEvent, AuditEventType, AuditOutcome, DetailValue } from './events'

/**
 * The `audit_events` row as D1 returns it (migrations/0010_create_audit_events.sql): the event's
 * own shape (events.ts), with the time in ms and the details as JSON text.
 */
type AuditRow = Omit<AuditEvent, 'at' | 'type' | 'outcome' | 'details'> & {
  at_ms: number
  type: string
  outcome: string
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

/**
 * Newest first, or oldest first when following (`after`). The WHERE clause holds only the filters
 * given, so SQLite can walk an index ((type, id), (actor_id, id), (subject_id, id) or the primary
 * key) in id order and stop at the limit instead of sorting the whole log.
 */
export async function queryAuditEvents(db: D1Database, query: AuditQuery): Promise<AuditEvent[]> {
  const conditions: string[] = []
  const values: (string | number)[] = []
  const add = (condition: string, value: string | number | undefined) => {
    if (value === undefined) return
    values.push(value)
    conditions.push(condition.replace('?', `?${values.length}`))
  }
  add('type = ?', query.type)
  add('actor_id = ?', query.actorId)
  add('subject_id = ?', query.subjectId)
  add('at_ms >= ?', query.sinceMs)
  add('at_ms < ?', query.untilMs)
  add('id < ?', query.before)
  add('id > ?', query.after)
  values.push(query.limit)
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''
  const order = query.after === undefined ? 'DESC' : 'ASC'
  const { results } = await db
    .prepare(`SELECT * FROM audit_events ${where} ORDER BY id ${order} LIMIT ?${values.length}`)
    .bind(...values)
    .all<AuditRow>()
  return results.map(toEvent)
}

/** Retention: deletes events older than the cutoff (run by the hourly cron). */
export function deleteOldAuditEvents(db: D1Database, cutoffMs: number): D1PreparedStatement {
  return db.prepare('DELETE FROM audit_events WHERE at_ms < ?1').bind(cutoffMs)
}
