/**
 * A project's local D1 and KV (what `npm start` and `npm run admin -- --persist-to DIR` use), opened
 * in this process. It is built the way wrangler 4.86 builds it for each `wrangler d1 execute --local`
 * (`executeLocally`: its own Miniflare on `<persist>/v3/d1`, the database id from wrangler.toml,
 * `splitSqlQuery`, one `db.batch`) and each `wrangler kv key ... --local` (`usingLocalNamespace`:
 * `<persist>/v3` as the persist root, the namespace id from wrangler.toml), with wrangler's own
 * Miniflare, so it reads and writes the same SQLite files. The difference is cost: wrangler starts a
 * Node process and a workerd per call (2-10 s on a busy 2-core machine); this starts one workerd per
 * state directory and then answers in milliseconds. A running `wrangler dev` sees its writes at once,
 * as it sees those of `wrangler d1 execute` (docs/PLATFORM: both are separate workerd processes on
 * the same files).
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { unstable_readConfig, unstable_splitSqlQuery } from 'wrangler'
import { PROJECT_ROOT } from './project-copy'

export type Row = Record<string, unknown>

/** The part of wrangler's Miniflare used here (typed by hand: the top-level types are another major). */
interface WranglerMiniflare {
  getD1Database(binding: string): Promise<{
    prepare(sqlText: string): unknown
    batch(statements: unknown[]): Promise<{ results?: Row[] }[]>
  }>
  getKVNamespace(binding: string): Promise<{
    get(key: string): Promise<string | null>
    put(key: string, value: string, options: { expirationTtl: number }): Promise<void>
    list(): Promise<{ keys: KvKey[] }>
  }>
  dispose(): Promise<void>
}

const require = createRequire(import.meta.url)
// wrangler's own Miniflare (4.x), not the top-level one the lockfile may resolve to another major.
const { Miniflare } = createRequire(require.resolve('wrangler/package.json'))('miniflare') as {
  Miniflare: new (options: Record<string, unknown>) => WranglerMiniflare
}

export interface KvKey {
  name: string
  expiration?: number
}

export interface LocalState {
  /** Runs the statements as one batch (all or nothing) and returns each statement's rows. */
  execute(sqlText: string): Promise<Row[][]>
  kvGet(key: string): Promise<string | undefined>
  kvList(): Promise<KvKey[]>
  kvPut(key: string, value: string, ttlSeconds: number): Promise<void>
  dispose(): Promise<void>
}

/** The ids wrangler resolves for `--binding KV` and the database `DB` in local mode. */
function localIds(): { database: string; namespace: string } {
  const config = unstable_readConfig({ config: join(PROJECT_ROOT, 'wrangler.toml') }, { hideWarnings: true })
  const database = config.d1_databases.find((entry: { binding: string }) => entry.binding === 'DB')
  const namespace = config.kv_namespaces.find((entry: { binding: string }) => entry.binding === 'KV')
  if (!database || !namespace?.id) throw new Error('wrangler.toml binds no DB database or KV namespace')
  return {
    database: database.preview_database_id ?? database.database_id ?? database.binding,
    namespace: namespace.id,
  }
}

/** `wrangler d1 execute --json` turns array values into "[a, b]"; so does this. */
function asWranglerRow(row: Row): Row {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [key, Array.isArray(value) ? `[${value.join(', ')}]` : value]),
  )
}

/** Opens the local state under `persistTo` (wrangler's `--persist-to`). Dispose it when done. */
export async function openLocalState(persistTo: string): Promise<LocalState> {
  const ids = localIds()
  const mf = new Miniflare({
    modules: true,
    script: '',
    defaultPersistRoot: join(persistTo, 'v3'),
    d1Databases: { DB: ids.database },
    kvNamespaces: { KV: ids.namespace },
  })
  const [db, kv] = await Promise.all([mf.getD1Database('DB'), mf.getKVNamespace('KV')])
  return {
    async execute(sqlText) {
      const statements = unstable_splitSqlQuery(sqlText).map((statement) => db.prepare(statement))
      try {
        const results = await db.batch(statements)
        return results.map((result) => (result.results ?? []).map(asWranglerRow))
      } catch (error) {
        // As wrangler reports it: the D1 error's cause carries SQLite's message.
        const cause = (error as { cause?: unknown }).cause ?? error
        throw new Error(cause instanceof Error ? cause.message : String(cause))
      }
    },
    async kvGet(key) {
      return (await kv.get(key)) ?? undefined
    },
    async kvList() {
      return (await kv.list()).keys.map(({ name, expiration }) => ({ name, expiration }))
    },
    async kvPut(key, value, ttlSeconds) {
      await kv.put(key, value, { expirationTtl: ttlSeconds })
    },
    dispose: () => mf.dispose(),
  }
}
