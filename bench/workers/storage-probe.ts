/**
 * Harness overhead of the simulators: a hello-world Worker that first makes one KV read (GET /kv)
 * or one D1 query (GET /d1) through the same simulated bindings the gateway uses. Its CPU per
 * request minus hello-world's is what one simulated read costs, so it can be told apart from the
 * gateway's own work. Production KV and D1 cost the Worker little CPU but add network latency.
 */
interface KvNamespace {
  get(key: string): Promise<string | null>
}

interface D1Database {
  prepare(query: string): { first<T>(): Promise<T | null> }
}

interface Env {
  KV: KvNamespace
  DB: D1Database
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/kv') await env.KV.get('bench:absent')
    else if (pathname === '/d1') await env.DB.prepare('SELECT 1 AS one').first<{ one: number }>()
    return new Response('hello')
  },
}
