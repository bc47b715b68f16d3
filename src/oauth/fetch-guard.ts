/**
 * The fetch guard for URLs a stranger chooses (a client_id that is a Client ID Metadata Document
 * URL): what the URL may look like, and how the one GET is made. Workers have no DNS API, so the
 * guard judges the URL as written (fetch-guard-host.ts) and the platform judges where the name
 * resolves (`global_fetch_strictly_public`, docs/mcp.md). Every refusal is a ClientMetadataError
 * with a code from a closed set and a message in the gateway's own words: never the body.
 */
import { readCappedBody } from '../http/capped-body'
import { hostRefusal } from './fetch-guard-host'

export type ClientMetadataErrorCode =
  | 'invalid_url'
  | 'forbidden_host'
  | 'fetch_failed'
  | 'timeout'
  | 'redirect'
  | 'http_status'
  | 'content_type'
  | 'too_large'
  | 'invalid_json'
  | 'invalid_document'

export class ClientMetadataError extends Error {
  readonly code: ClientMetadataErrorCode
  constructor(code: ClientMetadataErrorCode, message: string) {
    super(message)
    this.name = 'ClientMetadataError'
    this.code = code
  }
}

/** A client_id URL longer than this is refused unread (the draft sets no limit; ids land in D1 rows). */
export const MAX_DOCUMENT_URL_LENGTH = 512
/** workers-oauth-provider's cap: a client's metadata is a few hundred bytes. */
export const MAX_DOCUMENT_BYTES = 5 * 1024
/** Within a user's wait at /auth/authorize; a slow host fails instead of holding the request. */
export const DOCUMENT_TIMEOUT_MS = 5_000

export interface FetchGuardOptions {
  /**
   * `host:port` pairs fetched over http and without the host rules: a local stand-in for tests
   * and development only (config/load.ts refuses it unless ISSUER is a loopback origin).
   */
  allowHosts: readonly string[]
}

function refuse(code: ClientMetadataErrorCode, message: string): never {
  throw new ClientMetadataError(code, message)
}

function parse(value: string): URL | undefined {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

/** Whether `clientId` names a metadata document (https, or http to an allowed stand-in) rather than a D1 row. */
export function isDocumentUrl(clientId: string, options: FetchGuardOptions): boolean {
  if (clientId.startsWith('https://')) return true
  if (!clientId.startsWith('http://')) return false
  const url = parse(clientId)
  return url !== undefined && options.allowHosts.includes(url.host)
}

/**
 * The URL to fetch, or a refusal: https on port 443 with a path, no userinfo, no fragment, written
 * in canonical form (so no dot segments), on a host that is neither a non-public IP literal nor a
 * local-only name (draft-ietf-oauth-client-id-metadata-document §3).
 */
export function checkDocumentUrl(value: string, options: FetchGuardOptions): URL {
  if (value.length > MAX_DOCUMENT_URL_LENGTH)
    refuse('invalid_url', `The client_id URL is longer than ${MAX_DOCUMENT_URL_LENGTH} characters.`)
  if (value.includes('#')) refuse('invalid_url', 'The client_id URL must not have a fragment.')
  const url = parse(value)
  if (!url) refuse('invalid_url', 'The client_id is not a valid URL.')
  if (url.username !== '' || url.password !== '' || /^[^:]+:\/\/[^/?]*@/.test(value))
    refuse('invalid_url', 'The client_id URL must not contain userinfo (user@host).')
  const standIn = options.allowHosts.includes(url.host)
  if (url.protocol !== 'https:' && !(standIn && url.protocol === 'http:'))
    refuse('invalid_url', 'The client_id URL must be https.')
  if (url.href !== value)
    refuse('invalid_url', `The client_id URL must be written in canonical form: ${url.href}`)
  if (url.pathname === '/') refuse('invalid_url', 'The client_id URL must have a path.')
  if (standIn) return url
  if (url.port !== '') refuse('invalid_url', 'The client_id URL must use the default https port (443).')
  const reason = hostRefusal(url.hostname)
  if (reason) refuse('forbidden_host', `The client_id URL's host ${reason}.`)
  return url
}

export interface GuardedFetchOptions extends FetchGuardOptions {
  /** The fetch to use (tests hand in their own); the global one by default. */
  fetcher?: typeof fetch
  timeoutMs?: number
  maxBytes?: number
}

export interface FetchedDocument {
  body: Uint8Array
  /** The response's Cache-Control, for how long the document may be kept. */
  cacheControl: string | null
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i

async function getDocument(
  url: URL,
  options: GuardedFetchOptions,
  signal: AbortSignal,
): Promise<FetchedDocument> {
  const fetcher = options.fetcher ?? fetch
  const maxBytes = options.maxBytes ?? MAX_DOCUMENT_BYTES
  let response: Response
  try {
    // `manual`: a redirect is an answer we refuse, never a second URL we fetch unchecked.
    response = await fetcher(url.href, {
      method: 'GET',
      redirect: 'manual',
      signal,
      headers: { accept: 'application/json' },
    })
  } catch (error) {
    if (signal.aborted) throw error
    refuse('fetch_failed', 'The client metadata document could not be fetched.')
  }
  if (response.status >= 300 && response.status < 400) {
    response.body?.cancel().catch(() => undefined)
    refuse('redirect', 'The client metadata document URL redirects; it must answer itself.')
  }
  if (response.status !== 200) {
    response.body?.cancel().catch(() => undefined)
    refuse('http_status', `The client metadata document URL answered ${response.status}, not 200.`)
  }
  if (!JSON_TYPE.test(response.headers.get('content-type') ?? '')) {
    response.body?.cancel().catch(() => undefined)
    refuse('content_type', 'The client metadata document is not served as application/json.')
  }
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > maxBytes) {
    response.body?.cancel().catch(() => undefined)
    refuse('too_large', `The client metadata document is larger than ${maxBytes} bytes.`)
  }
  const body = await readCappedBody(response.body, maxBytes)
  if (!body) refuse('too_large', `The client metadata document is larger than ${maxBytes} bytes.`)
  return { body, cacheControl: response.headers.get('cache-control') }
}

/**
 * One GET of a checked URL: no redirects followed, JSON only, at most `maxBytes` read as they
 * arrive (http/capped-body.ts), all within `timeoutMs` (the headers and the body together).
 */
export async function fetchDocument(url: URL, options: GuardedFetchOptions): Promise<FetchedDocument> {
  const timeoutMs = options.timeoutMs ?? DOCUMENT_TIMEOUT_MS
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(
        new ClientMetadataError('timeout', `The client metadata document took longer than ${timeoutMs} ms.`),
      )
    }, timeoutMs)
  })
  try {
    // The race, not only the signal: a body stream that ignores the abort must not hold the request.
    return await Promise.race([getDocument(url, options, controller.signal), timeout])
  } catch (error) {
    if (controller.signal.aborted && !(error instanceof ClientMetadataError && error.code === 'timeout'))
      refuse('timeout', `The client metadata document took longer than ${timeoutMs} ms.`)
    throw error
  } finally {
    clearTimeout(timer)
  }
}
