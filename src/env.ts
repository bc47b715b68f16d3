import type { RequestContext } from './request-context'

/**
 * The Worker's bindings (wrangler.toml + secrets), as `c.env` has them.
 *
 * @example
 * ```ts
 * app.get('/count', async (c) => c.json(await c.env.DB.prepare('SELECT COUNT(*) AS n FROM users').first()))
 * ```
 */
export interface Env {
  DB: D1Database
  KV: KVNamespace
  ISSUER?: string
  UPSTREAM_URL?: string
  /** Raw values from wrangler.toml `[vars]`; validated by config/load.ts. */
  SETTINGS?: unknown
  ROUTES?: unknown
  /** `[[vars.LOGIN_PROVIDERS]]`; each names the secret holding its client secret. */
  LOGIN_PROVIDERS?: unknown
  /** "on" / "off": overrides SETTINGS.registration (local development sets "on" in .dev.vars). */
  REGISTRATION?: string
  /** Secret: a private JWK set (JSON). The first key signs, all verify. */
  SIGNING_KEYS?: string
  /** Secret: optional pepper mixed into password hashes. */
  PASSWORD_PEPPER?: string
  [name: string]: unknown
}

/**
 * The Hono type parameter of every app built on the gateway: its bindings, and the request context
 * (`c.var.ctx`: request id, validated config, audit recorder, principal) that `gatewayContext` sets.
 *
 * @example
 * ```ts
 * const app = new Hono<AppBindings>()
 * app.get('/id', gatewayContext(), (c) => c.text(c.var.ctx.requestId))
 * ```
 */
export interface AppBindings {
  Bindings: Env
  Variables: { ctx: RequestContext }
}
