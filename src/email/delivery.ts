import type { Context } from 'hono'
import type { AppBindings } from '../env'
import type { FlowDelivery } from './flows'

/** The request's way to send mail: its bindings, ISSUER, settings, `waitUntil` and audit recorder. */
export function deliveryOf(c: Context<AppBindings>): FlowDelivery {
  const { config, audit } = c.var.ctx
  return {
    env: c.env,
    db: c.env.DB,
    issuer: config.issuer,
    settings: config.settings.email,
    productName: config.settings.product_name,
    audit,
    waitUntil: (promise) => {
      try {
        c.executionCtx.waitUntil(promise)
      } catch {
        // A bare app.request without an execution context: the send still runs, unawaited.
        promise.catch(() => undefined)
      }
    },
  }
}
