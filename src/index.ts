import { createApp } from './app'
import { deleteExpiredRows } from './cleanup'
import { loadConfig } from './config/load'
import { devMailboxEnabled } from './email'
import type { Env } from './env'
import { nameLibraryErrors } from './errors/library-names'
import { DEFAULT_REALM, renderError } from './errors/render'
import { logEvent } from './log'
import { proxyRequest } from './proxy'
import { startRequest } from './request-setup'
import { startsWithReservedSegment } from './routing/reserved-segments'

// No error's stack is ever logged or returned (the log gets name and message), and capturing one
// costs about 10 µs per rejected request.
Error.stackTraceLimit = 0
nameLibraryErrors()

const app = createApp()

/**
 * Proxied traffic skips Hono's router and middleware chain (about 18 µs a request, measured by
 * `npm run bench`); the gateway's endpoints go through the Hono app, which also proxies, so both
 * doors lead to the same stages.
 */
async function proxyDirect(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise)
  const { requestId, audit, config, misconfigured } = startRequest(request, env, waitUntil)
  try {
    if (!config) throw misconfigured
    return await proxyRequest({ request, env, waitUntil, requestId, config, audit })
  } catch (error) {
    return renderError(error, requestId, config?.settings.realm ?? DEFAULT_REALM)
  } finally {
    audit.end()
  }
}

/** `/dev/...` belongs to the gateway only while the dev mailbox is on (local development). */
function devMailboxPath(url: string, env: Env): boolean {
  return (
    env.DEV_MAILBOX === '1' &&
    /^https?:\/\/[^/]+\/dev(\/|$|\?)/i.test(url) &&
    devMailboxEnabled(env, env.ISSUER ?? '')
  )
}

export default {
  fetch(request, env, ctx) {
    // Case-insensitive, as route matching is: `/ADMIN/x` goes to the app, whose endpoints answer only
    // `/admin/...` and whose fall-through refuses it (routing/reserved-segments.ts), never a route.
    return startsWithReservedSegment(request.url) || devMailboxPath(request.url, env)
      ? app.fetch(request, env, ctx)
      : proxyDirect(request, env, ctx)
  },
  // The hourly cron in wrangler.toml: D1 tables of expired tokens and throttling windows stay small.
  async scheduled(_controller, env) {
    const config = loadConfig(env)
    const settings = config.ok ? config.config.settings : undefined
    const report = await deleteExpiredRows(env.DB, undefined, {
      auditRetentionDays: settings?.audit_retention_days,
      unusedClientExpiryHours: settings?.dynamic_clients.unused_expiry_hours,
    })
    logEvent('info', 'expired_rows_deleted', { ...report })
  },
} satisfies ExportedHandler<Env>
