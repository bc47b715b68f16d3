import { createApp } from './app'
import { AuditRecorder, requestInfo } from './audit/record'
import { loadConfig } from './config/load'
import { newRequestId } from './context'
import type { Env } from './env'
import { GatewayError } from './errors/gateway-error'
import { DEFAULT_REALM, logEvent, renderError } from './errors/render'
import { proxyRequest } from './proxy/gateway'
import { startsWithReservedSegment } from './routing/reserved-segments'
import { deleteExpiredRows } from './storage/cleanup'

// No error's stack is ever logged or returned (the log gets name and message), and capturing one
// costs about 10 µs per rejected request.
Error.stackTraceLimit = 0

const app = createApp()

/**
 * Proxied traffic skips Hono's router and middleware chain (about 18 µs a request, measured by
 * `npm run bench`); the gateway's endpoints go through the Hono app, which also proxies, so both
 * doors lead to the same stages.
 */
async function proxyDirect(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const requestId = newRequestId()
  const result = loadConfig(env)
  const audit = new AuditRecorder(
    env.DB,
    (promise) => ctx.waitUntil(promise),
    requestInfo(request, requestId),
  )
  try {
    if (!result.ok) {
      logEvent('error', 'gateway_misconfigured', { request_id: requestId, problems: result.problems })
      throw new GatewayError('gateway_misconfigured', 'The gateway is misconfigured; see its logs.')
    }
    return await proxyRequest({
      request,
      env,
      waitUntil: (promise) => ctx.waitUntil(promise),
      requestId,
      config: result.config,
      audit,
    })
  } catch (error) {
    return renderError(error, requestId, result.ok ? result.config.settings.realm : DEFAULT_REALM)
  } finally {
    audit.end()
  }
}

export default {
  fetch(request, env, ctx) {
    // Case-insensitive, as route matching is: `/ADMIN/x` goes to the app, whose endpoints answer only
    // `/admin/...` and whose fall-through refuses it (routing/reserved-segments.ts), never a route.
    return startsWithReservedSegment(request.url)
      ? app.fetch(request, env, ctx)
      : proxyDirect(request, env, ctx)
  },
  // The hourly cron in wrangler.toml: D1 tables of expired tokens and throttling windows stay small.
  async scheduled(_controller, env) {
    const config = loadConfig(env)
    const report = await deleteExpiredRows(env.DB, undefined, {
      auditRetentionDays: config.ok ? config.config.settings.audit_retention_days : undefined,
    })
    logEvent('info', 'expired_rows_deleted', { ...report })
  },
} satisfies ExportedHandler<Env>
