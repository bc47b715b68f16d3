/**
 * Recording audit events off the request's critical path. Each request gets one AuditRecorder
 * (src/request-setup.ts for the gateway's endpoints, src/index.ts for proxied traffic); events recorded
 * while the request runs are buffered and written as one D1 batch through `waitUntil` when the
 * request ends, so an audited action costs the client no D1 round trip. Each event is also logged
 * at once as a structured line (`"event":"audit"`), which Workers Logs and Logpush collect: the
 * log line survives a D1 outage. A failed write is retried a bounded number of times after the
 * response (never into it), and then logged with the events it could not store.
 */
import { uuidv7 } from '../crypto/uuid7'
import { withStorage } from '../db/errors'
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
    this.waitUntil(writeWithRetry(this.db, batch, this.info?.requestId))
  }
}

/**
 * Attempts at writing one request's events, and the pauses between them: D1 answers "overloaded"
 * for as long as its queue is full, which passes in seconds. Bounded, so a failing D1 costs each
 * request at most three statements' worth of load and the waitUntil task ends well within the
 * 30 s a Worker has after its response.
 */
export const AUDIT_WRITE_RETRY_DELAYS_MS = [250, 1_000] as const

/**
 * Writes the batch (INSERT OR IGNORE by event id, so a retry after a write that did commit adds
 * nothing); when every attempt failed, one error line carries the events themselves: the record of
 * last resort, which Workers Logs and Logpush keep when D1 could not.
 */
async function writeWithRetry(
  db: D1Database,
  batch: readonly { atMs: number; event: AuditEvent }[],
  requestId: string | undefined,
): Promise<void> {
  let cause = ''
  for (let attempt = 0; attempt <= AUDIT_WRITE_RETRY_DELAYS_MS.length; attempt++) {
    if (attempt > 0) {
      const pause = AUDIT_WRITE_RETRY_DELAYS_MS[attempt - 1]
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
    try {
      await withStorage('audit write', () => insertAuditEvents(db, batch))
      return
    } catch (error) {
      cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error)
    }
  }
  logEvent('error', 'audit_write_failed', {
    request_id: requestId,
    attempts: AUDIT_WRITE_RETRY_DELAYS_MS.length + 1,
    cause,
    events: batch.map(({ event }) => event),
  })
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
