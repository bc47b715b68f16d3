import { Hono } from 'hono'
import { loadConfig } from './config/load'
import type { AppBindings } from './env'
import { GatewayError } from './errors/gateway-error'
import { DEFAULT_REALM, logEvent, renderError } from './errors/render'
import { proxyRequest } from './proxy/gateway'
import { accountRoutes } from './routes/account'
import { apiKeyRoutes } from './routes/api-keys'
import { healthRoutes } from './routes/health'
import { revocationRoutes } from './routes/revocation'
import { tokenRoutes } from './routes/token'
import { wellKnownRoutes } from './routes/well-known'

function newRequestId(): string {
  return crypto.randomUUID()
}

/** Builds the gateway: config and request id first, then the gateway's endpoints, then the proxy. */
export function createApp(): Hono<AppBindings> {
  const app = new Hono<AppBindings>()

  app.use('*', async function loadRequestContext(c, next) {
    const requestId = newRequestId()
    const result = loadConfig(c.env)
    if (!result.ok) {
      logEvent('error', 'gateway_misconfigured', { request_id: requestId, problems: result.problems })
      // Fail closed: nothing is served or forwarded with a config we could not validate.
      c.set('ctx', { requestId, config: undefined as never })
      throw new GatewayError('gateway_misconfigured', 'The gateway is misconfigured; see its logs.')
    }
    c.set('ctx', { requestId, config: result.config })
    await next()
    c.header('x-request-id', requestId)
  })

  app.route('/', healthRoutes)
  app.route('/', wellKnownRoutes)
  app.route('/', tokenRoutes)
  app.route('/', accountRoutes)
  app.route('/', revocationRoutes)
  app.route('/', apiKeyRoutes)
  app.all('*', proxyRequest)

  app.onError(function renderGatewayError(error, c) {
    const ctx = c.get('ctx')
    return renderError(error, ctx?.requestId ?? newRequestId(), ctx?.config?.settings.realm ?? DEFAULT_REALM)
  })
  return app
}
