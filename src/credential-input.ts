/**
 * What a credential loader sees and returns. The loaders live in their rooms (sessions/,
 * api-keys/, users/ and authn/ for JWTs) and authn/authenticate.ts runs them: this contract sits
 * below all of them, so neither side imports the other for it.
 */
import type { AuditSink } from './audit'
import type { Principal } from './authz/principal'
import type { GatewayConfig } from './config/load'
import type { CredentialKind } from './config/schema'
import type { Env } from './env'

/** What a credential loader sees: the request and the route's settings, nothing else. */
export interface CredentialInput {
  request: Request
  env: Env
  config: GatewayConfig
  credentials: readonly CredentialKind[]
  apiKeySources: readonly ('header' | 'query' | 'cookie')[]
  apiKeyParam: string
  issuers: readonly string[]
  strictRevocation: boolean
  /**
   * The `aud` our access tokens must carry here: an MCP route's resource (RFC 8707); without it
   * the gateway's own audience (SETTINGS.audience).
   */
  audience?: string
  waitUntil: (promise: Promise<unknown>) => void
  /** Where failed logins and key uses are recorded (src/audit/record.ts); none in a re-check. */
  audit?: AuditSink
  /**
   * Explain (admin/explain-routes.ts): load without recording usage: no API-key last-used or session
   * last-seen write. Basic is never run in this mode (a password check must count against
   * throttling, or explain would be a password oracle).
   */
  observeOnly?: boolean
}

/**
 * A loader looks for its kind of credential. It returns undefined when the request carries none,
 * a Principal when it carries a valid one, and throws a GatewayError when it carries an invalid
 * one (an invalid credential is never silently ignored).
 */
export type CredentialLoader = (input: CredentialInput) => Promise<Principal | undefined>
