/**
 * Recording audit events off the request's critical path. Each request gets one AuditRecorder
 * (src/request-setup.ts for the gateway's endpoints, src/index.ts for proxied traffic); events recorded
 * while the request runs are buffered and written as one D1 batch through `waitUntil` when the
 * request ends, so an audited action costs the client no D1 round trip. Each event is also logged
 * at once as a structured line (`"event":"audit"`), which Workers Logs and Logpush collect: the
 * log line survives a D1 outage, and a failed write is logged (never retried into the response).
 */
import { uuidv7 } from '../crypto/uuid7'
import { logEvent } from '../log'
import { type AuditEvent, type AuditInput, safeDetails, safeField } from './events'
import { insertAuditEvents } from './store'

export interface AuditSink {
  record(input: AuditInput): void
}

export interface AuditRequestInfo {
  requestId?: string
  ip?: string | null
  userAgent?: string | null
}

const MAX_USER_AGENT = 256
const MAX_ID = 200
/** D1 batches are limited (and a request records a handful): beyond this, further events are only logged. */
const MAX_EVENTS_PER_REQUEST = 50

export function buildAuditEvent(input: AuditInput, info: AuditRequestInfo, atMs = Date.now()): AuditEvent {
  return {
    id: uuidv7(atMs),
    at: new Date(atMs).toISOString(),
    type: input.type,
    outcome: input.outcome ?? 'success',
    actor_id: safeField(input.actorId, MAX_ID),
    subject_id: safeField(input.subjectId, MAX_ID),
    client_id: safeField(input.clientId, MAX_ID),
    ip: safeField(info.ip, 64),
    user_agent: safeField(info.userAgent, MAX_USER_AGENT),
    request_id: safeField(info.requestId, 64),
    details: safeDetails(input.details),
  }
}

export class AuditRecorder implements AuditSink {
  private pending: { atMs: number; event: AuditEvent }[] = []
  private ended = false
  private count = 0

  private info: AuditRequestInfo | undefined

  /**
   * `describe` is called at the first event only: most requests (every proxied one without a
   * key's first use in the minute) record nothing and so read no header for it.
   */
  constructor(
    private readonly db: D1Database,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
    private readonly describe: () => AuditRequestInfo,
  ) {}

  record(input: AuditInput): void {
    const atMs = Date.now()
    this.info ??= this.describe()
    const event = buildAuditEvent(input, this.info, atMs)
    logEvent(event.outcome === 'failure' ? 'warn' : 'info', 'audit', { ...event })
    if (++this.count > MAX_EVENTS_PER_REQUEST) return
    this.pending.push({ atMs, event })
    // Recorded after the response (a waitUntil task): written on its own.
    if (this.ended) this.flush()
  }

  /** The request is over: what it recorded is written in one batch, after the response. */
  end(): void {
    this.ended = true
    this.flush()
  }

  private flush(): void {
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    const write = insertAuditEvents(this.db, batch).catch((error: unknown) =>
      logEvent('error', 'audit_write_failed', {
        request_id: this.info?.requestId,
        events: batch.length,
        cause: error instanceof Error ? error.message : String(error),
      }),
    )
    this.waitUntil(write)
  }
}

/** Records one event on the request's recorder (see the module comment for where it goes). */
export function recordAuditEvent(ctx: { audit?: AuditSink }, event: AuditInput): void {
  ctx.audit?.record(event)
}

/** The request facts every event carries, read (when first needed) from the headers Cloudflare sets. */
export function requestInfo(request: Request, requestId: string): () => AuditRequestInfo {
  return () => ({
    requestId,
    ip: request.headers.get('cf-connecting-ip'),
    userAgent: request.headers.get('user-agent'),
  })
}
