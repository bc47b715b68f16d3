/**
 * Harness overhead of the simulators: a hello-world Worker that first makes one KV read (GET /kv),
 * one D1 query (GET /d1) or 20 rate-limit binding calls (GET /ratelimit) through the same
 * simulated bindings the gateway uses. Its CPU per request minus hello-world's is what the simulated
 * calls cost, so it can be told apart from the gateway's own work. Production KV and D1 cost the Worker
 * little CPU but add network latency; production's rate-limit binding is Cloudflare's, not this
 * module (bench/workers/ratelimit-binding.ts), whose cost here is its Map lookups and the call.
 */
interface KvNamespace {
  get(key: string): Promise<string | null>
}

interface D1Database {
  prepare(query: string): { first<T>(): Promise<T | null> }
}

interface RateLimit {
  limit(options: { key: string }): Promise<{ success: boolean }>
}

interface Env {
  KV: KvNamespace
  DB: D1Database
  RATE_LIMIT: RateLimit
}

/** Binding calls per `/ratelimit` request (bench/lib/scenarios.ts divides by the same number). */
const RATE_LIMIT_CALLS = 20

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/kv') await env.KV.get('bench:absent')
    else if (pathname === '/d1') await env.DB.prepare('SELECT 1 AS one').first<{ one: number }>()
    else if (pathname === '/ratelimit')
      // Several calls in a row, as limitRequest makes them: one call's few µs are below the noise.
      for (let i = 0; i < RATE_LIMIT_CALLS; i++) await env.RATE_LIMIT.limit({ key: 'bench' })
    return new Response('hello')
  },
}
