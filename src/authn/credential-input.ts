/**
 * What a credential loader sees and returns. In its own module so that the loaders and
 * `authenticate.ts`, which runs them, do not import each other.
 */
import type { AuditSink } from '../audit/record'
import type { GatewayConfig } from '../config/load'
import type { CredentialKind } from '../config/schema'
import type { Env } from '../env'
import type { Principal } from '../identity/principal'

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
  waitUntil: (promise: Promise<unknown>) => void
  /** Where failed logins and key uses are recorded (src/audit/record.ts); none in a re-check. */
  audit?: AuditSink
  /**
   * Explain (routes/explain.ts): load without recording usage: no API-key last-used or session
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
