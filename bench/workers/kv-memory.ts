/**
 * SIMULATED KV: an in-memory stand-in for a KV namespace under raw workerd.
 *
 * workerd's `kvNamespace` binding turns every `KV.get/put/delete/list` into an HTTP request to the
 * service it points at (the same protocol miniflare's KV simulator answers):
 *   GET    /<url-encoded key>?urlencoded=true          → 200 value (+ CF-KV-Metadata) or 404
 *   PUT    /<url-encoded key>?urlencoded=true&expiration_ttl=N | expiration=T   (body = value)
 *   DELETE /<url-encoded key>?urlencoded=true
 *   GET    /?prefix=&key_count_limit=&cursor=          → {keys, list_complete, cursor?}
 *   POST   /bulk/get  {keys, type: "text"}              → {key: value | null, ...}   (KV.get([...]))
 * So the gateway runs its real KV client code; only the store behind it is a Map in another
 * isolate of the same process. Production KV is a network service with a per-colo cache: its reads
 * cost more than this one's, and that cost is not part of what this benchmark measures.
 *
 * The harness seeds entries through a socket of its own: POST /__bench/seed {entries: [[key, value]]}.
 */

interface Entry {
  value: string
  /** Seconds since epoch; undefined = no expiry. */
  expiration?: number
  metadata?: string
}

const store = new Map<string, Entry>()
const LIST_LIMIT = 1000

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

function live(key: string): Entry | undefined {
  const entry = store.get(key)
  if (entry?.expiration !== undefined && entry.expiration <= nowSeconds()) {
    store.delete(key)
    return undefined
  }
  return entry
}

function keyOf(url: URL): string {
  const raw = url.pathname.slice(1)
  return url.searchParams.get('urlencoded') === 'true' ? decodeURIComponent(raw) : raw
}

function expirationOf(url: URL): number | undefined {
  const ttl = url.searchParams.get('expiration_ttl')
  if (ttl !== null) return nowSeconds() + Number(ttl)
  const at = url.searchParams.get('expiration')
  return at === null ? undefined : Number(at)
}

function list(url: URL): Response {
  const prefix = url.searchParams.get('prefix') ?? ''
  const limit = Number(url.searchParams.get('key_count_limit') ?? LIST_LIMIT)
  const start = Number(url.searchParams.get('cursor') ?? 0)
  const names = [...store.keys()].filter((name) => name.startsWith(prefix) && live(name)).sort()
  const page = names.slice(start, start + limit)
  const done = start + limit >= names.length
  const keys = page.map((name) => {
    const entry = store.get(name) as Entry
    return { name, expiration: entry.expiration, metadata: entry.metadata }
  })
  return Response.json(
    done ? { keys, list_complete: true } : { keys, list_complete: false, cursor: String(start + limit) },
  )
}

async function bulkGet(request: Request): Promise<Response> {
  const body = (await request.json()) as { keys: string[]; type?: string }
  if (body.type !== undefined && body.type !== 'text')
    return new Response('only "text" is simulated', { status: 400 })
  const values: Record<string, string | null> = {}
  for (const key of body.keys) values[key] = live(key)?.value ?? null
  return Response.json(values)
}

async function seed(request: Request): Promise<Response> {
  const body = (await request.json()) as { entries: [string, string][] }
  for (const [key, value] of body.entries) store.set(key, { value })
  return Response.json({ size: store.size })
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/__bench/seed' && request.method === 'POST') return seed(request)
    if (url.pathname === '/') return list(url)
    if (url.pathname === '/bulk/get' && request.method === 'POST') return bulkGet(request)
    const key = keyOf(url)
    switch (request.method) {
      case 'GET': {
        const entry = live(key)
        if (!entry) return new Response('Not Found', { status: 404 })
        const headers = new Headers()
        if (entry.expiration !== undefined) headers.set('cf-expiration', String(entry.expiration))
        if (entry.metadata !== undefined) headers.set('cf-kv-metadata', entry.metadata)
        return new Response(entry.value, { headers })
      }
      case 'PUT': {
        const metadata = request.headers.get('cf-kv-metadata') ?? undefined
        store.set(key, { value: await request.text(), expiration: expirationOf(url), metadata })
        return new Response(null)
      }
      case 'DELETE':
        store.delete(key)
        return new Response(null)
      default:
        return new Response('Method Not Allowed', { status: 405 })
    }
  },
}
