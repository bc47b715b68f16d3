import type { AuditSink } from './audit'
import type { Principal } from './authz/principal'
import type { ConfigVars, GatewayConfig } from './config/load'

/**
 * The Worker's bindings (wrangler.toml + secrets), as `c.env` has them.
 *
 * @example
 * ```ts
 * app.get('/count', async (c) => c.json(await c.env.DB.prepare('SELECT COUNT(*) AS n FROM users').first()))
 * ```
 */
export interface Env extends ConfigVars {
  DB: D1Database
  KV: KVNamespace
  /** Secret: a private JWK set (JSON). The first key signs, all verify. */
  SIGNING_KEYS?: string
  /**
   * Secret: the keys that seal stored secrets (a JSON set of AES-256-GCM JWKs; the first seals,
   * all open). Optional until a feature stores a sealed value (src/config/data-keys.ts).
   */
  DATA_KEYS?: string
  /** Secret: optional pepper mixed into password hashes. */
  PASSWORD_PEPPER?: string
  /** The `send_email` binding (Cloudflare Email Service): every mail goes through it (src/email/). */
  EMAIL?: SendEmail
  /** "1" in `.dev.vars` (written by `npm start`): the dev mailbox at /dev/mailbox, loopback ISSUER only. */
  DEV_MAILBOX?: string
  // Workers Rate Limiting bindings (`[[ratelimits]]`), one per limit class (src/rate-limit/classes.ts,
  // docs/rate-limiting.md). Each is optional: a missing one admits, logged once per isolate. The
  // RATE_LIMITING var (ConfigVars) set to "off" asks none of them.
  /** Credential attempts per client address. */
  RATE_LIMIT_ADDRESS?: RateLimit
  /** Password attempts per submitted account from unknown devices; code attempts per user. */
  RATE_LIMIT_ACCOUNT?: RateLimit
  /** Password evaluations from unknown devices, one key: the ceiling that protects D1. */
  RATE_LIMIT_PASSWORD_CEILING?: RateLimit
  /** Password attempts per known device (a valid device cookie). */
  RATE_LIMIT_DEVICE?: RateLimit
  /** Token endpoint requests per client address. */
  RATE_LIMIT_TOKEN?: RateLimit
  /** Account and client registrations per client address. */
  RATE_LIMIT_REGISTRATION?: RateLimit
  /** Mail-sending requests per client address and per recipient. */
  RATE_LIMIT_EMAIL?: RateLimit
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
/** Per-request state shared by the stages; set once by the first middleware. */
export interface RequestContext {
  requestId: string
  config: GatewayConfig
  principal?: Principal
  /** This request's audit events (src/audit/record.ts): written in one batch after the response. */
  audit?: AuditSink
  /**
   * The response is the upstream's own (src/proxy): gatewayContext leaves it as it is (its headers
   * may be immutable), and SETTINGS.response_request_id alone decides whether it has our id.
   */
  forwarded?: true
}
