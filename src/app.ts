import { Hono } from 'hono'
import { accountEmailRoutes } from './accounts/account-email-routes'
import { accountHomeRoutes } from './accounts/account-home-routes'
import { registerPageRoutes } from './accounts/register-page-routes'
import { accountRoutes } from './accounts/routes'
import { adminRoutes } from './admin/routes'
import { apiKeyRoutes } from './api-keys/routes'
import { emailRoutes } from './email/routes'
import { emailSignInRoutes } from './email/sign-in-routes'
import type { AppBindings } from './env'
import { healthRoutes } from './http/health-routes'
import { identityRoutes } from './login-providers/identities-routes'
import { providerLoginRoutes } from './login-providers/routes'
import { protectedResourceRoutes } from './mcp/well-known-routes'
import { authorizeRoutes } from './oauth/authorize-routes'
import { endSessionRoutes } from './oauth/end-session-routes'
import { registrationRoutes } from './oauth/registration-routes'
import { tokenRoutes } from './oauth/token-routes'
import { oidcRoutes } from './oauth/userinfo-routes'
import { wellKnownRoutes } from './oauth/well-known-routes'
import { pageAssetRoutes } from './pages/routes'
import { passkeyRoutes } from './passkeys/routes'
import { passkeySignInRoutes } from './passkeys/sign-in-routes'
import { proxyRequest } from './proxy'
import { gatewayContext, gatewayErrorHandler } from './request-setup'
import { revocationRoutes } from './revocation/routes'
import { secondFactorRoutes } from './second-factor/routes'
import { secondFactorSetupRoutes } from './second-factor/setup-routes'
import { loginRoutes } from './sessions/login-routes'
import { sessionRoutes } from './sessions/routes'

/**
 * Builds the whole gateway: config and request id first, then the gateway's endpoints, then the
 * proxy. This is what the Worker entry (src/index.ts) serves; mount it inside your own app to add
 * routes of your own in front of it. A proxied response may be the upstream's own fetch() response,
 * whose headers cannot be changed in place (SETTINGS.response_request_id): a middleware that sets
 * headers after `next()` copies it first.
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
  app.route('/', protectedResourceRoutes)
  app.route('/', tokenRoutes)
  app.route('/', registrationRoutes)
  app.route('/', pageAssetRoutes)
  app.route('/', loginRoutes)
  app.route('/', providerLoginRoutes)
  app.route('/', identityRoutes)
  app.route('/', registerPageRoutes)
  app.route('/', passkeySignInRoutes)
  app.route('/', passkeyRoutes)
  app.route('/', emailRoutes)
  app.route('/', emailSignInRoutes)
  // Before accountRoutes: its browser logout hands bearer requests on to the bearer logout there.
  app.route('/', sessionRoutes)
  app.route('/', accountRoutes)
  app.route('/', accountHomeRoutes)
  app.route('/', accountEmailRoutes)
  app.route('/', secondFactorRoutes)
  app.route('/', secondFactorSetupRoutes)
  app.route('/', revocationRoutes)
  app.route('/', apiKeyRoutes)
  app.route('/', oidcRoutes)
  app.route('/', authorizeRoutes)
  app.route('/', endSessionRoutes)
  app.route('/', adminRoutes)
  app.all('*', (c) => {
    // Refused requests become the gateway's own responses (with the id); forwarded ones are the
    // upstream's, left as they are (SETTINGS.response_request_id).
    c.var.ctx.forwarded = true
    return proxyRequest({
      request: c.req.raw,
      env: c.env,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      requestId: c.var.ctx.requestId,
      config: c.var.ctx.config,
      audit: c.var.ctx.audit,
    })
  })
  app.onError(gatewayErrorHandler)
  return app
}
