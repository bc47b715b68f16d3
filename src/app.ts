import { Hono } from 'hono'
import { gatewayContext, gatewayErrorHandler } from './context'
import type { AppBindings } from './env'
import { proxyRequest } from './proxy/gateway'
import { accountRoutes } from './routes/account'
import { adminRoutes } from './routes/admin'
import { apiKeyRoutes } from './routes/api-keys'
import { authorizeRoutes } from './routes/authorize'
import { endSessionRoutes } from './routes/end-session'
import { healthRoutes } from './routes/health'
import { identityRoutes } from './routes/identities'
import { loginRoutes } from './routes/login'
import { providerLoginRoutes } from './routes/login-providers'
import { oidcRoutes } from './routes/oidc'
import { pageAssetRoutes } from './routes/pages'
import { registerPageRoutes } from './routes/register-page'
import { revocationRoutes } from './routes/revocation'
import { sessionRoutes } from './routes/sessions'
import { tokenRoutes } from './routes/token'
import { wellKnownRoutes } from './routes/well-known'

/**
 * Builds the whole gateway: config and request id first, then the gateway's endpoints, then the
 * proxy. This is what the Worker entry (src/index.ts) serves; mount it inside your own app to add
 * routes of your own in front of it.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { type AppBindings, createApp } from './lib'
 *
 * const app = new Hono<AppBindings>()
 * app.get('/status', (c) => c.text('ok')) // yours, answered before the gateway
 * app.route('/', createApp()) // every gateway endpoint and the proxy
 * export default app
 * ```
 */
export function createApp(): Hono<AppBindings> {
  const app = new Hono<AppBindings>()
  app.use('*', gatewayContext())
  app.route('/', healthRoutes)
  app.route('/', wellKnownRoutes)
  app.route('/', tokenRoutes)
  app.route('/', pageAssetRoutes)
  app.route('/', loginRoutes)
  app.route('/', providerLoginRoutes)
  app.route('/', identityRoutes)
  app.route('/', registerPageRoutes)
  // Before accountRoutes: its browser logout hands bearer requests on to the bearer logout there.
  app.route('/', sessionRoutes)
  app.route('/', accountRoutes)
  app.route('/', revocationRoutes)
  app.route('/', apiKeyRoutes)
  app.route('/', oidcRoutes)
  app.route('/', authorizeRoutes)
  app.route('/', endSessionRoutes)
  app.route('/', adminRoutes)
  app.all('*', (c) =>
    proxyRequest({
      request: c.req.raw,
      env: c.env,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      requestId: c.var.ctx.requestId,
      config: c.var.ctx.config,
      audit: c.var.ctx.audit,
    }),
  )
  app.onError(gatewayErrorHandler)
  return app
}
