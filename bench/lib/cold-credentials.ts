/**
 * API keys the gateway's isolate has never seen, for the `api-key-cold` scenario: clones of the
 * bench user's own key (same owner, scopes and roles, each with a secret of its own), in D1 (the
 * truth) and in KV as the gateway caches them, as when another isolate of the location used the key
 * within the last minute (KV keeps a record 60 s). A first request then pays the isolate's part:
 * the KV read, the hash, the principal, and the key's last-used write to D1 and its audit event
 * (once a minute per key per isolate, src/api-keys/credential.ts).
 */
import { createHash, randomBytes } from 'node:crypto'

const ROWS_PER_INSERT = 2_000

async function sql(d1Origin: string, statement: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(`${d1Origin}/__bench/sql`, {
    method: 'POST',
    body: JSON.stringify({ sql: statement, params }),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`bench SQL failed: ${response.status} ${text.slice(0, 300)}`)
  return JSON.parse(text) as unknown
}

/** The first row object (one with `user_id`) in the D1 answer, whatever its envelope. */
function firstRow(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = firstRow(item)
      if (found) return found
    }
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  if ('user_id' in record) return record
  return firstRow(record.results ?? record.result)
}

function parseList(value: unknown): string[] | null {
  return typeof value === 'string' ? (JSON.parse(value) as string[]) : null
}

/** `count` API keys of the bench user's key's owner, seeded in D1 and KV; returns the keys. */
export async function seedColdApiKeys(options: {
  d1Origin: string
  kvOrigin: string
  count: number
}): Promise<string[]> {
  const row = firstRow(
    await sql(
      options.d1Origin,
      `SELECT k.user_id, k.scopes, k.roles AS key_roles, k.expires_at, u.username, u.roles
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.name = 'bench' LIMIT 1`,
    ),
  )
  if (!row) throw new Error('cold API keys: the bench key is not in D1')
  const keys: string[] = []
  const rows: { id: string; hash: string }[] = []
  const entries: [string, string][] = []
  for (let i = 0; i < options.count; i++) {
    const id = randomBytes(8).toString('hex')
    const key = `gwk_${id}_${randomBytes(32).toString('base64url')}`
    const hash = createHash('sha256').update(key).digest('hex')
    keys.push(key)
    rows.push({ id, hash })
    // The record src/api-keys/cache.ts writes (CachedApiKey).
    const record = {
      keyHash: hash,
      userId: row.user_id,
      username: row.username,
      roles: parseList(row.roles) ?? [],
      keyRoles: parseList(row.key_roles),
      scopes: parseList(row.scopes) ?? [],
      expiresAt: row.expires_at ?? null,
      dead: false,
    }
    entries.push([`apikey:${id}`, JSON.stringify(record)])
  }
  // In slices: the Durable Object's SQLite refuses a bound value past ~1 MB (SQLITE_TOOBIG).
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT)
    await sql(
      options.d1Origin,
      `INSERT INTO api_keys (id, user_id, name, key_hash, scopes, roles, created_at, expires_at)
     SELECT j.value ->> 'id', k.user_id, 'bench-cold', j.value ->> 'hash', k.scopes, k.roles, k.created_at, k.expires_at
       FROM json_each(?1) AS j, api_keys AS k WHERE k.name = 'bench'`,
      [JSON.stringify(rows.slice(start, start + ROWS_PER_INSERT))],
    )
  const seeded = await fetch(`${options.kvOrigin}/__bench/seed`, {
    method: 'POST',
    body: JSON.stringify({ entries }),
  })
  if (!seeded.ok) throw new Error(`cold API keys: KV seed failed: ${seeded.status}`)
  await seeded.body?.cancel()
  return keys
}
