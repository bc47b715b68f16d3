/**
 * Which browser origins may call the token endpoints with CORS (src/oauth/cors.ts): the web
 * origins of enabled clients' redirect URIs plus their `allowed_origins`. The set is read from D1
 * as a whole and kept per isolate, so a request with an `Origin` costs a Set lookup, not a query.
 */

import { withStorage } from '../db/errors'
import { listEnabledClientUris, type OAuthClient } from './client-store'

/**
 * How long a loaded set answers "yes": a disabled or deleted client's origin keeps CORS this long
 * at most. Harmless meanwhile: CORS here never carries credentials, so it only lets a page read
 * answers to requests it could already send with tokens it already holds.
 */
export const ORIGINS_FRESH_MS = 60_000

/**
 * An origin the set does not hold reloads it when the set is older than this: a newly created
 * client's origin works within seconds in every isolate, and made-up `Origin` values cost at most
 * one D1 query per isolate per this interval.
 */
export const ORIGINS_MISS_RELOAD_MS = 5_000

/** A client's browser origins: of its http(s) redirect URIs (custom app schemes have none), and listed. */
export function originsOfClient(client: Pick<OAuthClient, 'redirectUris' | 'allowedOrigins'>): string[] {
  const origins: string[] = []
  for (const uri of client.redirectUris) {
    const url = parseUrl(uri)
    if (url?.protocol === 'https:' || url?.protocol === 'http:') origins.push(url.origin)
  }
  return [...origins, ...client.allowedOrigins]
}

function parseUrl(uri: string): URL | undefined {
  try {
    return new URL(uri)
  } catch {
    return undefined // registration refuses such a URI; a corrupt row grants nothing
  }
}

export interface OriginSetOptions<Source> {
  /** Reads the set from storage; a rejection reaches the caller and nothing is cached. */
  load: (source: Source) => Promise<ReadonlySet<string>>
  now?: () => number
}

/** The set as one isolate keeps it: loaded at most once at a time, answering from memory meanwhile. */
export interface OriginSet<Source> {
  has(source: Source, origin: string): Promise<boolean>
  /** Drops the loaded set; the next question reloads it. */
  forget(): void
}

/**
 * One cached set (bounded by the operator's clients and the self-registered ones users consented
 * to, client-store.ts; no per-origin entries, so a stream of made-up `Origin` values grows
 * nothing). Concurrent reloads share one load.
 */
export function cachedOriginSet<Source>(options: OriginSetOptions<Source>): OriginSet<Source> {
  const now = options.now ?? Date.now
  let loaded: { origins: ReadonlySet<string>; at: number } | undefined
  let pending: Promise<ReadonlySet<string>> | undefined

  const reload = (source: Source): Promise<ReadonlySet<string>> => {
    pending ??= options
      .load(source)
      .then((origins) => {
        loaded = { origins, at: now() }
        return origins
      })
      .finally(() => {
        pending = undefined
      })
    return pending
  }

  return {
    async has(source, origin) {
      if (loaded) {
        const age = now() - loaded.at
        if (age < ORIGINS_FRESH_MS && loaded.origins.has(origin)) return true
        if (age < ORIGINS_MISS_RELOAD_MS) return false
      }
      return (await reload(source)).has(origin)
    },
    forget() {
      loaded = undefined
    },
  }
}

async function loadClientOrigins(db: D1Database): Promise<ReadonlySet<string>> {
  const clients = await withStorage('client origins', () => listEnabledClientUris(db))
  return new Set(clients.flatMap(originsOfClient))
}

// One per isolate: a Worker has one DB binding.
const clientOrigins = cachedOriginSet({ load: loadClientOrigins })

/**
 * Whether a page on `origin` belongs to an enabled client. D1 unreachable while the set must be
 * (re)loaded: a 503 `storage_unavailable` GatewayError, so the caller fails closed.
 */
export function isClientOrigin(db: D1Database, origin: string): Promise<boolean> {
  return clientOrigins.has(db, origin)
}

/** Forgets this isolate's set (tests that change clients and ask again at once). */
export function forgetClientOrigins(): void {
  clientOrigins.forget()
}
