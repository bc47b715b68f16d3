import type { AuditSink } from './audit/record'
import type { GatewayConfig } from './config/load'
import type { Principal } from './identity/principal'

/** Per-request state shared by the stages; set once by the first middleware. */
export interface RequestContext {
  requestId: string
  config: GatewayConfig
  principal?: Principal
  /** This request's audit events (src/audit/record.ts): written in one batch after the response. */
  audit?: AuditSink
}
