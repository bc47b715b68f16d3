/**
 * Where Client ID Metadata Documents are kept: the document's bytes in KV for as long as its
 * Cache-Control allows (within a floor and a ceiling), and one D1 row per URL recording that the
 * gateway has used it (first seen, last fetched, last used) for the admin API. D1 holds no
 * document: the KV copy, re-validated on every read, is what a request trusts.
 */
import { sha256Hex } from '../crypto/bytes'
import { parseStringList } from '../db/json'
import { clientMetadataKey, KV_MIN_TTL_SECONDS } from '../db/kv-keys'

/** A document asking for no caching is still kept this long: one fetch per URL per location per 5 min at most. */
export const DOCUMENT_CACHE_FLOOR_SECONDS = 300
/** However long a document asks to be kept: a changed or withdrawn document takes effect within a day. */
export const DOCUMENT_CACHE_CEILING_SECONDS = 86_400
/** Without Cache-Control max-age. */
export const DOCUMENT_CACHE_DEFAULT_SECONDS = 3_600

/** The row id and KV key part of a document URL: half a SHA-256, hex (a 64-digit value reads as a secret to the audit scrubber). */
export async function documentId(url: string): Promise<string> {
  return (await sha256Hex(url)).slice(0, 32)
}

/**
 * How long to keep a document, from its Cache-Control: `max-age` within [floor, ceiling];
 * `no-store`, `no-cache` or `max-age=0` give the floor, no header the default. Never below
 * KV's minimum expirationTtl (60 s), which local workerd does not enforce but production does.
 */
export function documentCacheSeconds(cacheControl: string | null): number {
  const directives = (cacheControl ?? '').toLowerCase()
  const maxAge = /(?:^|[\s,])max-age\s*=\s*"?(\d{1,10})"?/.exec(directives)
  let seconds = DOCUMENT_CACHE_DEFAULT_SECONDS
  if (/(?:^|[\s,])(no-store|no-cache)(?:$|[\s,=])/.test(directives)) seconds = 0
  else if (maxAge) seconds = Number(maxAge[1])
  return Math.max(
    KV_MIN_TTL_SECONDS,
    DOCUMENT_CACHE_FLOOR_SECONDS,
    Math.min(DOCUMENT_CACHE_CEILING_SECONDS, seconds),
  )
}

interface CachedDocument {
  /** The document's JSON text as fetched (at most 5 KB). */
  body: string
  /** Unix seconds; checked on read, since KV's own expiry is not exact. */
  expiresAt: number
}

export async function readCachedDocument(
  kv: KVNamespace,
  id: string,
  now: number,
): Promise<string | undefined> {
  const cached = await kv.get<CachedDocument>(clientMetadataKey(id), 'json')
  if (!cached || typeof cached.body !== 'string' || !(cached.expiresAt > now)) return undefined
  return cached.body
}

export async function cacheDocument(
  kv: KVNamespace,
  id: string,
  body: string,
  ttlSeconds: number,
  now: number,
): Promise<void> {
  const value: CachedDocument = { body, expiresAt: now + ttlSeconds }
  await kv.put(clientMetadataKey(id), JSON.stringify(value), { expirationTtl: ttlSeconds })
}

export async function forgetCachedDocument(kv: KVNamespace, id: string): Promise<void> {
  await kv.delete(clientMetadataKey(id))
}

export interface SeenDocument {
  id: string
  url: string
  clientName: string
  redirectUris: string[]
  firstSeen: number
  lastFetched: number
  lastUsed: number
}

interface SeenRow {
  id: string
  url: string
  client_name: string
  redirect_uris: string
  first_seen: number
  last_fetched: number
  last_used: number
}

function toSeen(row: SeenRow): SeenDocument {
  return {
    id: row.id,
    url: row.url,
    clientName: row.client_name,
    redirectUris: parseStringList(row.redirect_uris),
    firstSeen: row.first_seen,
    lastFetched: row.last_fetched,
    lastUsed: row.last_used,
  }
}

/** Records a fetch of a valid document; true when the gateway had never seen this URL (its first use). */
export async function recordDocumentFetch(
  db: D1Database,
  document: { id: string; url: string; clientName: string; redirectUris: readonly string[] },
  now: number,
): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO client_metadata_documents (id, url, client_name, redirect_uris, first_seen, last_fetched, last_used)
       VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5) ON CONFLICT(id) DO NOTHING RETURNING id`,
    )
    .bind(document.id, document.url, document.clientName, JSON.stringify(document.redirectUris), now)
    .first()
  if (inserted) return true
  await db
    .prepare(
      `UPDATE client_metadata_documents SET client_name = ?2, redirect_uris = ?3, last_fetched = ?4, last_used = ?4
       WHERE id = ?1`,
    )
    .bind(document.id, document.clientName, JSON.stringify(document.redirectUris), now)
    .run()
  return false
}

export async function touchDocument(db: D1Database, id: string, now: number): Promise<void> {
  await db.prepare('UPDATE client_metadata_documents SET last_used = ?2 WHERE id = ?1').bind(id, now).run()
}

/** In id order, after the cursor `after` (the admin API pages through them like clients). */
export async function listSeenDocuments(
  db: D1Database,
  options: { after?: string; limit: number },
): Promise<SeenDocument[]> {
  const { results } = await db
    .prepare('SELECT * FROM client_metadata_documents WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2')
    .bind(options.after ?? null, options.limit)
    .all<SeenRow>()
  return results.map(toSeen)
}

export async function deleteSeenDocument(db: D1Database, id: string): Promise<SeenDocument | undefined> {
  const row = await db
    .prepare('DELETE FROM client_metadata_documents WHERE id = ?1 RETURNING *')
    .bind(id)
    .first<SeenRow>()
  return row ? toSeen(row) : undefined
}
