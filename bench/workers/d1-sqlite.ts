/**
 * SIMULATED D1: the gateway's `DB` binding under raw workerd.
 *
 * workerd has no plain D1 binding; D1 is a wrapped binding (`cloudflare-internal:d1-api`, the real
 * client the gateway's code talks to) whose inner `fetcher` receives
 *   POST /query|/execute?resultsFormat=ROWS_AND_COLUMNS|ARRAY_OF_OBJECTS|NONE
 *   body {sql, params} or [{sql, params}, ...] (a batch: one transaction)
 * and answers one {success, results, meta} per statement. This Worker forwards that to a Durable
 * Object with SQLite storage on local disk, where the migrations in migrations/ were applied: the
 * statements are real SQLite, but there is no network, no replication and no D1 service in between,
 * so D1 here is far faster than production D1 (a round trip to the database's primary).
 *
 * The harness runs SQL of its own (seed rows) through POST /__bench/sql {sql, params}.
 *
 * SINGLE WRITER (the storm's D1 only, when STATEMENT_COST_MS is set): production D1 runs one
 * statement at a time on one primary, about 1 ms each (Cloudflare's own figure: ~1,000 queries/s),
 * and answers "overloaded" once its queue is full. Here every request joins one FIFO queue and
 * holds the database for STATEMENT_COST_MS per statement (a batch of n costs n times that) before
 * its statements run: a timer, not busy CPU, since the real primary's time is not this machine's
 * CPU (a busy wait would take cores from the gateway). The queue's clock is a
 * deadline (the previous request's end + the cost), so a late timer does not lower the
 * primary's throughput. A request that would wait more than QUEUE_LIMIT_MS behind the queue is
 * answered at once with D1's "D1 DB is overloaded. Too many requests queued." GET /__bench/stats
 * gives the statements run, the milliseconds the primary was busy, the longest wait and the
 * overloaded count since the last call (and resets them).
 */

interface SqlCursor extends Iterable<Record<string, unknown>> {
  readonly columnNames: string[]
  readonly rowsRead: number
  readonly rowsWritten: number
  raw(): IterableIterator<unknown[]>
}

interface SqlStorage {
  exec(query: string, ...bindings: unknown[]): SqlCursor
}

interface DurableObjectState {
  storage: { sql: SqlStorage; transactionSync<T>(closure: () => T): T }
}

interface DurableObjectStub {
  fetch(request: Request): Promise<Response>
}

interface DurableObjectNamespace {
  idFromName(name: string): unknown
  get(id: unknown): DurableObjectStub
}

interface Env {
  DATABASE: DurableObjectNamespace
  /** The text of each migrations/NNNN_*.sql, in order. */
  MIGRATIONS: string[]
  /** ms the primary spends per statement; unset or 0: no queue, statements run on arrival. */
  STATEMENT_COST_MS?: number
  /** Longest wait (ms of queued work ahead) before a request is refused as overloaded. */
  QUEUE_LIMIT_MS?: number
}

interface Statement {
  sql: string
  params?: unknown[] | null
}

type ResultsFormat = 'ROWS_AND_COLUMNS' | 'ARRAY_OF_OBJECTS' | 'NONE'

function formatOf(url: URL): ResultsFormat {
  const format = url.searchParams.get('resultsFormat')
  return format === 'ROWS_AND_COLUMNS' || format === 'NONE' ? format : 'ARRAY_OF_OBJECTS'
}

const OVERLOADED = 'D1 DB is overloaded. Too many requests queued.'

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()
}

/** Since the last GET /__bench/stats. */
interface QueueStats {
  statements: number
  busyMs: number
  maxWaitMs: number
  overloaded: number
}

const emptyStats = (): QueueStats => ({ statements: 0, busyMs: 0, maxWaitMs: 0, overloaded: 0 })

export class BenchDatabase {
  private readonly sql: SqlStorage
  private readonly costMs: number
  private readonly queueLimitMs: number
  /** When the primary finishes the last request queued (epoch ms). */
  private busyUntil = 0
  /** The last request in the queue: each runs only after the one before it. */
  private tail: Promise<unknown> = Promise.resolve()
  private stats = emptyStats()

  constructor(
    private readonly state: DurableObjectState,
    env: Env,
  ) {
    this.sql = state.storage.sql
    this.costMs = Number(env.STATEMENT_COST_MS ?? 0)
    this.queueLimitMs = Number(env.QUEUE_LIMIT_MS ?? Number.POSITIVE_INFINITY)
    // The object is constructed again after workerd evicts it when idle: apply each migration once.
    this.sql.exec('CREATE TABLE IF NOT EXISTS _bench_migrations (n INTEGER PRIMARY KEY)')
    const applied = [...this.sql.exec('SELECT COUNT(*) FROM _bench_migrations').raw()][0]?.[0]
    env.MIGRATIONS.forEach((migration, n) => {
      if (n < Number(applied ?? 0)) return
      this.sql.exec(migration)
      this.sql.exec('INSERT INTO _bench_migrations (n) VALUES (?)', n)
    })
  }

  private run(statement: Statement, format: ResultsFormat) {
    const cursor = this.sql.exec(statement.sql, ...(statement.params ?? []))
    const columns = cursor.columnNames
    const rows = [...cursor.raw()]
    const written = cursor.rowsWritten
    const after =
      written > 0 ? [...this.sql.exec('SELECT changes(), last_insert_rowid()').raw()][0] : undefined
    const results =
      format === 'ROWS_AND_COLUMNS'
        ? { columns, rows }
        : format === 'NONE'
          ? []
          : rows.map((row) => Object.fromEntries(columns.map((column, i) => [column, row[i]])))
    return {
      success: true,
      results,
      meta: {
        served_by: 'bench-d1-sqlite',
        duration: 0,
        changes: Number(after?.[0] ?? 0),
        last_row_id: Number(after?.[1] ?? 0),
        changed_db: written > 0,
        size_after: 0,
        rows_read: cursor.rowsRead,
        rows_written: written,
      },
    }
  }

  private execute(statements: Statement[], format: ResultsFormat): Response {
    try {
      const results = this.state.storage.transactionSync(() =>
        statements.map((statement) => this.run(statement, format)),
      )
      return Response.json(results)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      return Response.json({ success: false, error: message, meta: {} }, { status: 500 })
    }
  }

  /** Waits for the primary (one request at a time, the cost of each statement), then executes. */
  private enqueue(statements: Statement[], format: ResultsFormat): Promise<Response> {
    const now = Date.now()
    const start = Math.max(now, this.busyUntil)
    if (start - now > this.queueLimitMs) {
      this.stats.overloaded++
      return Promise.resolve(Response.json({ success: false, error: OVERLOADED, meta: {} }, { status: 500 }))
    }
    const busy = this.costMs * statements.length
    this.busyUntil = start + busy
    const due = this.busyUntil
    this.stats.statements += statements.length
    this.stats.busyMs += busy
    this.stats.maxWaitMs = Math.max(this.stats.maxWaitMs, start - now)
    const turn = this.tail.then(async () => {
      await sleep(due - Date.now())
      return this.execute(statements, format)
    })
    this.tail = turn.catch(() => undefined)
    return turn
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/__bench/stats') {
      const stats = this.stats
      this.stats = emptyStats()
      return Response.json(stats)
    }
    const body = (await request.json()) as Statement | Statement[]
    const statements = Array.isArray(body) ? body : [body]
    const format = url.pathname === '/__bench/sql' ? 'ARRAY_OF_OBJECTS' : formatOf(url)
    if (this.costMs > 0) return this.enqueue(statements, format)
    return this.execute(statements, format)
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.DATABASE.get(env.DATABASE.idFromName('DB')).fetch(request)
  },
}
