import type { GatewayConfig } from './config/load'
import type { Principal } from './identity/principal'

/** Per-request state shared by the stages; set once by the first middleware. */
export interface RequestContext {
  requestId: string
  config: GatewayConfig
  principal?: Principal
}
