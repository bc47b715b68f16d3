/**
 * Finding the client a request names. A client_id that is an https URL is a Client ID Metadata
 * Document (draft-ietf-oauth-client-id-metadata-document): the client is whatever that document
 * says, fetched through the fetch guard and cached in KV; any other client_id is a D1 row the
 * operator (or dynamic registration) created. `/auth/authorize`, the token endpoint and
 * revocation all ask here, so a document is judged by the same rules wherever it is used.
 */
import { type AuditSink, recordAuditEvent } from '../audit'
import { IDENTITY_SCOPES } from '../authz/scopes'
import type { GatewayConfig } from '../config/load'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { logEvent } from '../log'
import { clientFromDocument } from './client-metadata-document'
import {
  cacheDocument,
  documentCacheSeconds,
  documentId,
  readCachedDocument,
  recordDocumentFetch,
  touchDocument,
} from './client-metadata-store'
import { findClient, type OAuthClient } from './client-store'
import { ClientMetadataError, checkDocumentUrl, fetchDocument, isDocumentUrl } from './fetch-guard'

export type ClientLookupResult =
  | { client: OAuthClient | undefined }
  /** A metadata document that cannot be used, in the gateway's words (never the document's). */
  | { refused: string }

/** How a request finds its client; `d1ClientLookup` for D1 alone, `clientLookup` for documents too. */
export type ClientLookup = (clientId: string) => Promise<ClientLookupResult>

export interface ClientLookupContext {
  db: D1Database
  kv: KVNamespace
  config: GatewayConfig
  audit?: AuditSink
  /** The fetch for documents (tests hand in their own); the global one by default. */
  fetcher?: typeof fetch
}

/** Operator and self-registered clients only (D1), for callers with no KV or config at hand. */
export function d1ClientLookup(db: D1Database): ClientLookup {
  return async (clientId) => ({ client: await withStorage('client lookup', () => findClient(db, clientId)) })
}

// The last time this isolate wrote a document's `last_used`: at most one D1 write per URL per hour each.
const TOUCH_INTERVAL_SECONDS = 3_600
const MAX_TOUCHED = 1_000
const touched = new Map<string, number>()

async function touch(db: D1Database, id: string, now: number): Promise<void> {
  if (now - (touched.get(id) ?? 0) < TOUCH_INTERVAL_SECONDS) return
  if (touched.size >= MAX_TOUCHED) touched.clear()
  touched.set(id, now)
  await withStorage('client metadata document', () => touchDocument(db, id, now))
}

function knownScopes(config: GatewayConfig): string[] {
  return [...new Set([...IDENTITY_SCOPES, ...Object.values(config.settings.role_scopes).flat()])].sort()
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch {
    throw new ClientMetadataError('invalid_json', 'The client metadata document is not valid JSON.')
  }
}

/**
 * Documents refused recently, per isolate: a client_id URL repeated in a loop (by a broken client,
 * or by someone using the gateway to hammer a host) costs one fetch per REFUSAL_MEMORY_MS, not one
 * per request. Kept in memory, not KV: every refusal would otherwise be a KV write an attacker
 * chooses. Bounded: the oldest is dropped past REFUSAL_MEMORY_CAPACITY.
 */
export const REFUSAL_MEMORY_MS = 60_000
const REFUSAL_MEMORY_CAPACITY = 10_000
const refusals = new Map<string, { until: number; error: ClientMetadataError }>()

function rememberedRefusal(url: string, now: number): ClientMetadataError | undefined {
  const known = refusals.get(url)
  if (!known) return undefined
  if (known.until > now) return known.error
  refusals.delete(url)
  return undefined
}

function rememberRefusal(url: string, error: ClientMetadataError, now: number): void {
  if (refusals.size >= REFUSAL_MEMORY_CAPACITY) {
    const oldest = refusals.keys().next()
    if (!oldest.done) refusals.delete(oldest.value)
  }
  refusals.set(url, { until: now + REFUSAL_MEMORY_MS, error })
}

async function documentClient(context: ClientLookupContext, url: string): Promise<OAuthClient> {
  const remembered = rememberedRefusal(url, Date.now())
  if (remembered) throw remembered
  try {
    return await fetchedDocumentClient(context, url)
  } catch (error) {
    if (error instanceof ClientMetadataError) rememberRefusal(url, error, Date.now())
    throw error
  }
}

async function fetchedDocumentClient(context: ClientLookupContext, url: string): Promise<OAuthClient> {
  const allowHosts = context.config.settings.client_metadata_document_allow_hosts
  const checked = checkDocumentUrl(url, { allowHosts })
  const options = { knownScopes: knownScopes(context.config) }
  const id = await documentId(url)
  const now = nowSeconds()
  const cached = await withStorage('client metadata cache', () => readCachedDocument(context.kv, id, now))
  if (cached !== undefined) {
    // Judged again on every use: a rule tightened since the fetch applies at once.
    const client = clientFromDocument(url, parseJson(cached), options)
    await touch(context.db, id, now)
    return client
  }
  const fetched = await fetchDocument(checked, { allowHosts, fetcher: context.fetcher })
  let body: string
  try {
    body = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fetched.body)
  } catch {
    throw new ClientMetadataError('invalid_json', 'The client metadata document is not UTF-8 text.')
  }
  const client = clientFromDocument(url, parseJson(body), options)
  const ttl = documentCacheSeconds(fetched.cacheControl)
  await withStorage('client metadata cache', () => cacheDocument(context.kv, id, body, ttl, now))
  const first = await withStorage('client metadata document', () =>
    recordDocumentFetch(
      context.db,
      { id, url, clientName: client.name, redirectUris: client.redirectUris },
      now,
    ),
  )
  touched.set(id, now)
  if (first)
    recordAuditEvent(context, {
      type: 'client_metadata_fetched',
      clientId: url,
      details: { host: checked.host, client_name: client.name, first_use: true },
    })
  return client
}

/** D1 rows and metadata documents alike; a document that cannot be used is `refused`, logged and audited. */
export function clientLookup(context: ClientLookupContext): ClientLookup {
  const allowHosts = context.config.settings.client_metadata_document_allow_hosts
  const fromD1 = d1ClientLookup(context.db)
  return async (clientId) => {
    if (!isDocumentUrl(clientId, { allowHosts })) return fromD1(clientId)
    try {
      return { client: await documentClient(context, clientId) }
    } catch (error) {
      if (!(error instanceof ClientMetadataError)) throw error
      // The reason, never the body: a document is a stranger's text.
      logEvent('warn', 'client_metadata_refused', { client_id: clientId.slice(0, 200), reason: error.code })
      recordAuditEvent(context, {
        type: 'client_metadata_fetched',
        outcome: 'failure',
        clientId,
        details: { reason: error.code, message: error.message },
      })
      return { refused: error.message }
    }
  }
}
