/**
 * Wrappers around the real D1 and KV bindings of the test Worker (never stand-ins for them): every
 * call reaches the real local storage, and is either recorded (to count reads, or to see the TTL
 * a put asked for) or made to throw first (to prove the gateway fails closed).
 */

import { decodeJwt } from 'jose'
import { sha256Hex } from '../../src/crypto/bytes'
import { revokedJtiKey } from '../../src/db/kv-keys'

export interface KvCall {
  method: string
  key: string | undefined
  /** A bulk `get([...keys])`. */
  keys?: string[]
  options: unknown
}

export interface DbCall {
  /** `prepare` at the time a statement was prepared; the execution method (`first`, `run`...) after. */
  method: string
  sql: string | undefined
  /** A batch's statements, in order. */
  statements?: string[]
  /** D1's `meta.rows_written` once the execution completed (spies with `measure` only). */
  rowsWritten?: number
}

const KV_METHODS = new Set(['get', 'getWithMetadata', 'put', 'delete', 'list'])
const STATEMENT_EXECUTIONS = new Set(['first', 'all', 'run', 'raw'])

export class StorageUnavailableForTest extends Error {
  constructor(what: string) {
    super(`${what} is unavailable (test)`)
    this.name = 'StorageUnavailableForTest'
  }
}

/** What a D1 primary past its throughput answers (Cloudflare's D1 error text). */
export function d1Overloaded(): Error {
  return new Error('D1_ERROR: D1 DB is overloaded. Too many requests queued.')
}

/** What KV answers a second write to one key within a second (Cloudflare's error text). */
export function kvWriteLimited(): Error {
  return new Error('KV PUT failed: 429 Too Many Requests')
}

export interface SpyKvOptions {
  /** Throw instead of calling KV when this says so. */
  failWhen?: (call: KvCall) => boolean
  /** What a failing call rejects with (default StorageUnavailableForTest). */
  failure?: () => Error
}

/** The real KV, with every call recorded in `calls` (and optionally failing). */
export function spyKv(kv: KVNamespace, options: SpyKvOptions = {}): { kv: KVNamespace; calls: KvCall[] } {
  const calls: KvCall[] = []
  const wrapped = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof property !== 'string' || typeof value !== 'function') return value
      if (!KV_METHODS.has(property)) return value.bind(target)
      return (...args: unknown[]) => {
        const call: KvCall = {
          method: property,
          key: typeof args[0] === 'string' ? args[0] : undefined,
          ...(Array.isArray(args[0]) ? { keys: [...(args[0] as string[])] } : {}),
          options: property === 'put' ? args[2] : args[1],
        }
        calls.push(call)
        if (options.failWhen?.(call))
          return Promise.reject(options.failure?.() ?? new StorageUnavailableForTest('KV'))
        return value.apply(target, args)
      }
    },
  })
  return { kv: wrapped, calls }
}

/** A KV whose every call throws, as when the binding cannot be read. */
export function failingKv(kv: KVNamespace): KVNamespace {
  return spyKv(kv, { failWhen: () => true }).kv
}

export interface SpyDbOptions {
  /** Make executions (`first`/`all`/`run`/`raw`, `batch`, `exec`) throw when this says so. */
  failWhen?: (call: DbCall) => boolean
  /** What a failing execution rejects with (default StorageUnavailableForTest). */
  failure?: () => Error
  /** Awaited before an execution reaches D1: a delay, or a promise that never settles (a hung D1). */
  beforeExecution?: (call: DbCall) => Promise<void> | void
  /**
   * Awaited after an execution has completed and before its caller sees the result: a test holds
   * one request at an exact point (its write committed, its next step not yet taken) to decide
   * the interleaving with another request.
   */
  afterExecution?: (call: DbCall) => Promise<void> | void
  /** Record D1's `meta.rows_written` of each execution in `rowsWritten` (`first` then runs as `all`). */
  measure?: boolean
}

interface D1Outcome {
  meta?: { rows_written?: number }
}

/** Rows written by an execution's result: a statement's `meta`, or the sum over a batch's. */
function rowsWrittenBy(result: unknown): number {
  const outcomes = (Array.isArray(result) ? result : [result]) as D1Outcome[]
  return outcomes.reduce((sum, outcome) => sum + (outcome?.meta?.rows_written ?? 0), 0)
}

/** The real D1, with every prepared statement and every execution recorded (and optionally failing). */
export function spyDb(db: D1Database, options: SpyDbOptions = {}): { db: D1Database; calls: DbCall[] } {
  const calls: DbCall[] = []
  // D1's batch() only accepts its own statements: wrappers map back to the real ones.
  const real = new WeakMap<object, { statement: D1PreparedStatement; sql: string }>()

  function execute<T>(call: DbCall, run: () => Promise<T>): Promise<T> {
    calls.push(call)
    if (options.failWhen?.(call))
      return Promise.reject(options.failure?.() ?? new StorageUnavailableForTest('D1'))
    const before = options.beforeExecution
    const started = before ? Promise.resolve(before(call)).then(run) : run()
    return started.then(async (result) => {
      if (options.measure) call.rowsWritten = rowsWrittenBy(result)
      await options.afterExecution?.(call)
      return result
    })
  }

  function wrapStatement(statement: D1PreparedStatement, sql: string): D1PreparedStatement {
    const wrapper = new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property, target)
        if (typeof property !== 'string' || typeof value !== 'function') return value
        if (property === 'bind') {
          return (...args: unknown[]) => wrapStatement(value.apply(target, args) as D1PreparedStatement, sql)
        }
        if (property === 'first' && options.measure) {
          // Run as `all`, whose result carries the meta that `first` drops; same row, same column.
          return (column?: string) =>
            execute({ method: property, sql }, () => target.all()).then((result) => {
              const row = (result.results[0] ?? null) as Record<string, unknown> | null
              return column === undefined || row === null ? row : (row[column] ?? null)
            })
        }
        if (STATEMENT_EXECUTIONS.has(property)) {
          return (...args: unknown[]) =>
            execute({ method: property, sql }, () => value.apply(target, args) as Promise<unknown>)
        }
        return value.bind(target)
      },
    })
    real.set(wrapper, { statement, sql })
    return wrapper
  }

  const wrapped = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof property !== 'string' || typeof value !== 'function') return value
      if (property === 'prepare') {
        return (sql: string) => {
          calls.push({ method: 'prepare', sql })
          return wrapStatement(target.prepare(sql), sql)
        }
      }
      if (property === 'batch') {
        return (statements: D1PreparedStatement[]) =>
          execute(
            {
              method: 'batch',
              sql: undefined,
              statements: statements.map((statement) => real.get(statement)?.sql ?? '?'),
            },
            () => target.batch(statements.map((statement) => real.get(statement)?.statement ?? statement)),
          )
      }
      if (property === 'exec') {
        return (sql: string) => execute({ method: 'exec', sql }, () => target.exec(sql))
      }
      return value.bind(target)
    },
  })
  return { db: wrapped, calls }
}

/** A D1 whose every query throws, as when the database cannot be reached. */
export function failingDb(db: D1Database): D1Database {
  return spyDb(db, { failWhen: () => true }).db
}

/** Calls that read or write storage (D1 executions, every KV call), leaving out `prepare`. */
export function storageOperations<T extends { method: string }>(calls: readonly T[]): T[] {
  return calls.filter((call) => call.method !== 'prepare')
}

/** The denylist key of an access token: SHA-256 of its `jti` (src/db/kv-keys.ts). */
export async function jtiHashOf(accessToken: string): Promise<string> {
  const { jti } = decodeJwt(accessToken)
  if (typeof jti !== 'string') throw new Error('token has no jti')
  return sha256Hex(jti)
}

/** What D1 (the truth) says about an access token: its revoked_tokens row, if any. */
export async function revokedRowInD1(
  db: D1Database,
  accessToken: string,
): Promise<{ subject: string; expires_at: number } | null> {
  return db
    .prepare('SELECT subject, expires_at FROM revoked_tokens WHERE jti_hash = ?1')
    .bind(await jtiHashOf(accessToken))
    .first<{ subject: string; expires_at: number }>()
}

/** What the KV edge copy says about an access token: its `revoked:jti:` entry, if any. */
export async function revokedEntryInKv(kv: KVNamespace, accessToken: string): Promise<string | null> {
  return kv.get(revokedJtiKey(await jtiHashOf(accessToken)))
}
