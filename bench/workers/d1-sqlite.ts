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

export class BenchDatabase {
  private readonly sql: SqlStorage

  constructor(
    private readonly state: DurableObjectState,
    env: Env,
  ) {
    this.sql = state.storage.sql
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

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const body = (await request.json()) as Statement | Statement[]
    const statements = Array.isArray(body) ? body : [body]
    const format = url.pathname === '/__bench/sql' ? 'ARRAY_OF_OBJECTS' : formatOf(url)
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
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.DATABASE.get(env.DATABASE.idFromName('DB')).fetch(request)
  },
}
