import type { Principal } from './authn/principal'
import type { GatewayConfig } from './config/load'

/** Per-request state shared by the stages; set once by the first middleware. */
export interface RequestContext {
  requestId: string
  config: GatewayConfig
  principal?: Principal
}
