/**
 * Just enough of D1's prepared-statement API (`first`, `all`, `run`, `batch`) for the gateway's own
 * store functions to run against the bench's SQLite Durable Object through its `/__bench/sql` door,
 * so seed rows (a client, a TOTP enrolment, a passkey) are written by the gateway's own code. A
 * seeding door for the harness, not a stand-in the gateway ever talks to.
 */

interface BenchStatement {
  sql: string
  params: unknown[]
}

interface BenchResult {
  results: Record<string, unknown>[]
  meta: { changes: number; last_row_id: number }
}

/** Runs statements in one transaction (the door's array form, as a D1 batch is). */
async function execute(d1Origin: string, statements: BenchStatement[]): Promise<BenchResult[]> {
  const response = await fetch(`${d1Origin}/__bench/sql`, {
    method: 'POST',
    body: JSON.stringify(statements),
  })
  if (!response.ok) throw new Error(`bench D1: ${response.status} ${await response.text()}`)
  return (await response.json()) as BenchResult[]
}

type PreparedStatement = BenchStatement & {
  bind(...values: unknown[]): PreparedStatement
  first<T>(column?: string): Promise<T | null>
  all<T>(): Promise<{ results: T[]; meta: BenchResult['meta'] }>
  run(): Promise<{ results: unknown[]; meta: BenchResult['meta'] }>
}

export function benchDatabase(d1Origin: string): D1Database {
  const one = async (statement: BenchStatement) => (await execute(d1Origin, [statement]))[0] as BenchResult
  const statement = (sql: string, params: unknown[] = []): PreparedStatement => ({
    sql,
    params,
    bind: (...values: unknown[]) => statement(sql, values),
    async first<T>(column?: string): Promise<T | null> {
      const row = (await one({ sql, params })).results[0]
      if (!row) return null
      return (column === undefined ? row : row[column]) as T
    },
    async all<T>() {
      const { results, meta } = await one({ sql, params })
      return { results: results as T[], meta }
    },
    run: () => one({ sql, params }),
  })
  return {
    prepare: (sql: string) => statement(sql),
    batch: (statements: PreparedStatement[]) =>
      execute(
        d1Origin,
        statements.map(({ sql, params }) => ({ sql, params })),
      ),
  } as unknown as D1Database
}
