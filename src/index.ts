import { createApp } from './app'
import { AuditRecorder, requestInfo } from './audit/record'
import { loadConfig } from './config/load'
import { newRequestId } from './context'
import type { Env } from './env'
import { GatewayError } from './errors/gateway-error'
import { DEFAULT_REALM, logEvent, renderError } from './errors/render'
import { proxyRequest } from './proxy/gateway'
import { deleteExpiredRows } from './storage/cleanup'

// No error's stack is ever logged or returned (the log gets name and message), and capturing one
// costs about 10 µs per rejected request.
Error.stackTraceLimit = 0

const app = createApp()

// The gateway's own endpoints live under these first segments; everything else is proxied traffic.
const GATEWAY_SEGMENTS = new Set(['auth', 'admin', '.well-known', 'healthz'])

function isGatewayEndpoint(url: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0) return true
  let end = start + 1
  for (; end < url.length; end++) {
    const code = url.charCodeAt(end)
    if (code === 0x2f /* / */ || code === 0x3f /* ? */ || code === 0x23 /* # */) break
  }
  return GATEWAY_SEGMENTS.has(url.slice(start + 1, end))
}

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
    return isGatewayEndpoint(request.url) ? app.fetch(request, env, ctx) : proxyDirect(request, env, ctx)
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
