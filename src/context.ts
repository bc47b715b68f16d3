import type { ErrorHandler, MiddlewareHandler } from 'hono'
import { loadConfig } from './config/load'
import type { AppBindings } from './env'
import { GatewayError } from './errors/gateway-error'
import { DEFAULT_REALM, logEvent, renderError } from './errors/render'

export function newRequestId(): string {
  return crypto.randomUUID()
}

/**
 * The first middleware of any app built on the gateway: gives the request an id and the validated
 * configuration (parsed once per isolate). An invalid configuration fails closed with 503
 * `gateway_misconfigured` for every request, never a forward.
 */
export function gatewayContext(): MiddlewareHandler<AppBindings> {
  return async function loadRequestContext(c, next) {
    const requestId = newRequestId()
    const result = loadConfig(c.env)
    if (!result.ok) {
      logEvent('error', 'gateway_misconfigured', { request_id: requestId, problems: result.problems })
      c.set('ctx', { requestId, config: undefined as never })
      throw new GatewayError('gateway_misconfigured', 'The gateway is misconfigured; see its logs.')
    }
    c.set('ctx', { requestId, config: result.config })
    // Set before the handler runs: setting it afterwards makes Hono copy the finished response.
    c.header('x-request-id', requestId)
    await next()
    if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', requestId)
  }
}

/** The one place errors become responses (`app.onError(gatewayErrorHandler)`). */
export const gatewayErrorHandler: ErrorHandler<AppBindings> = function renderGatewayError(error, c) {
  const ctx = c.get('ctx')
  return renderError(error, ctx?.requestId ?? newRequestId(), ctx?.config?.settings.realm ?? DEFAULT_REALM)
}
