/**
 * Counts what one request costs the storage layer, as production would bill and queue it: the real
 * Worker entry (src/index.ts) runs with spied D1 and KV bindings (storage-spies.ts), and its
 * waitUntil tasks (the audit batch, last-seen writes) are awaited and counted with it.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import type { Env } from '../../src/env'
import worker from '../../src/index'
import { GATEWAY } from './gateway'
import { type DbCall, type KvCall, spyDb, spyKv } from './storage-spies'

export interface StorageUsage {
  /** D1 executions (a batch is one), the request's audit batch left out. */
  d1Calls: number
  /** Statements D1 ran (each statement of a batch counts), the audit batch left out. */
  d1Statements: number
  /** D1's `meta.rows_written` (table rows and index entries), the audit batch left out. */
  d1RowsWritten: number
  /** Events in the request's audit batch (one D1 batch after the response, one INSERT each). */
  auditEvents: number
  /** Rows the audit batch wrote. */
  auditRowsWritten: number
  /** KV get calls (a bulk get of several keys is one). */
  kvReads: number
  /** KV put and delete calls. */
  kvWrites: number
  /** Key prefixes read and written: "`a:` `b:` / `c:`", "–" for none. */
  kvKeys: string
}

const AUDIT_INSERT = /INSERT OR IGNORE INTO audit_events/

function isAuditBatch(call: DbCall): boolean {
  return call.method === 'batch' && (call.statements ?? []).every((sql) => AUDIT_INSERT.test(sql))
}

/** `revoked:jti:`, `session:`...: the prefix src/db/kv-keys.ts gives the key. */
export function kvPrefix(key: string): string {
  return /^(revoked:[a-z]+:|[a-z]+:)/.exec(key)?.[1] ?? key
}

function prefixes(calls: readonly KvCall[]): string {
  const keys = new Set(calls.flatMap((call) => call.keys ?? (call.key === undefined ? [] : [call.key])))
  const list = [...new Set([...keys].map(kvPrefix))].sort()
  return list.length === 0 ? '–' : list.map((prefix) => `\`${prefix}\``).join(' ')
}

export function storageUsage(dbCalls: readonly DbCall[], kvCalls: readonly KvCall[]): StorageUsage {
  const executions = dbCalls.filter((call) => call.method !== 'prepare')
  const own = executions.filter((call) => !isAuditBatch(call))
  const audit = executions.filter(isAuditBatch)
  const reads = kvCalls.filter((call) => call.method === 'get' || call.method === 'getWithMetadata')
  const writes = kvCalls.filter((call) => call.method === 'put' || call.method === 'delete')
  return {
    d1Calls: own.length,
    d1Statements: own.reduce((sum, call) => sum + (call.statements?.length ?? 1), 0),
    d1RowsWritten: own.reduce((sum, call) => sum + (call.rowsWritten ?? 0), 0),
    auditEvents: audit.reduce((sum, call) => sum + (call.statements?.length ?? 0), 0),
    auditRowsWritten: audit.reduce((sum, call) => sum + (call.rowsWritten ?? 0), 0),
    kvReads: reads.length,
    kvWrites: writes.length,
    kvKeys: `${prefixes(reads)} / ${prefixes(writes)}`,
  }
}

export type MeteredFetch = (path: string, init?: RequestInit) => Promise<Response>

/**
 * A fetch through the production entry with metered bindings: every call made while `run` runs
 * (responses and their waitUntil tasks) is counted.
 */
export async function meter(
  run: (fetch: MeteredFetch) => Promise<void>,
  overrides: Partial<Env> = {},
): Promise<StorageUsage> {
  const db = spyDb(env.DB, { measure: true })
  const kv = spyKv(env.KV)
  const metered: Env = { ...env, ...overrides, DB: db.db, KV: kv.kv }
  await run(async (path, init = {}) => {
    const ctx = createExecutionContext()
    const request = new Request(`${GATEWAY}${path}`, init) as Parameters<typeof worker.fetch>[0]
    const response = await worker.fetch(request, metered, ctx)
    await waitOnExecutionContext(ctx)
    return response
  })
  return storageUsage(db.calls, kv.calls)
}
