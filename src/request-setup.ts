import type { Context, ErrorHandler, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { AuditRecorder, requestInfo } from './audit'
import { type GatewayConfig, loadConfig } from './config/load'
import type { AppBindings, Env } from './env'
import { GatewayError } from './errors/gateway-error'
import { DEFAULT_REALM, renderError } from './errors/render'
import { logEvent } from './log'

// Cloudflare's Ray ID as its edge sets it: 16 lowercase hex digits, then `-` and the data centre's
// three-letter code. Nothing else is honoured, so a value sent by a client (possible only where no
// Cloudflare edge overwrites it: local development) cannot bring characters into a log line, a
// header or an audit row.
const CF_RAY = /^[0-9a-f]{16}(?:-[A-Z]{3})?$/

/**
 * The request's id: Cloudflare's `CF-Ray` when present and well-formed (it costs nothing, and it
 * is the id Cloudflare's own logs and support know the request by), else a random UUID.
 */
export function requestIdOf(request: Request): string {
  const ray = request.headers.get('cf-ray')
  return ray !== null && CF_RAY.test(ray) ? ray : crypto.randomUUID()
}

/** What every request starts with, whichever door it came in by (the Hono app or the direct proxy). */
export interface RequestStart {
  requestId: string
  audit: AuditRecorder
  /** The validated configuration; undefined when it is invalid (then `misconfigured` is the error to throw). */
  config: GatewayConfig | undefined
  misconfigured: GatewayError | undefined
}

/**
 * The one request setup: an id, this request's audit recorder, and the configuration (parsed once
 * per isolate). An invalid configuration is logged with its problems and becomes 503
 * `gateway_misconfigured` for the caller, who throws it: nothing is ever forwarded then.
 */
export function startRequest(
  request: Request,
  env: Env,
  waitUntil: (promise: Promise<unknown>) => void,
): RequestStart {
  const requestId = requestIdOf(request)
  const result = loadConfig(env)
  const audit = new AuditRecorder(env.DB, waitUntil, requestInfo(request, requestId))
  if (result.ok) return { requestId, audit, config: result.config, misconfigured: undefined }
  logEvent('error', 'gateway_misconfigured', { request_id: requestId, problems: result.problems })
  return {
    requestId,
    audit,
    config: undefined,
    misconfigured: new GatewayError('gateway_misconfigured', 'The gateway is misconfigured; see its logs.'),
  }
}

/** The request's `waitUntil`; without an execution context (a bare `app.request`), a no-op catch. */
function waitUntilOf(c: Context<AppBindings>): (promise: Promise<unknown>) => void {
  return (promise) => {
    try {
      c.executionCtx.waitUntil(promise)
    } catch {
      promise.catch(() => undefined)
    }
  }
}

/**
 * The first middleware of any app built on the gateway: gives the request an id and the validated
 * configuration (parsed once per isolate). An invalid configuration fails closed with 503
 * `gateway_misconfigured` for every request, never a forward.
 *
 * @example
 * ```ts
 * const app = new Hono<AppBindings>()
 * app.use('*', gatewayContext())
 * app.onError(gatewayErrorHandler)
 * ```
 */
export function gatewayContext(): MiddlewareHandler<AppBindings> {
  return async function loadRequestContext(c, next) {
    const { requestId, audit, config, misconfigured } = startRequest(c.req.raw, c.env, waitUntilOf(c))
    if (!config) {
      c.set('ctx', { requestId, config: undefined as never, audit })
      throw misconfigured
    }
    c.set('ctx', { requestId, config, audit })
    // Set before the handler runs: setting it afterwards makes Hono copy the finished response.
    c.header('x-request-id', requestId)
    try {
      await next()
    } finally {
      audit.end()
    }
    const ctx = c.get('ctx')
    if (!ctx.forwarded && !c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', requestId)
  }
}

/**
 * The one place errors become responses: the contract's JSON body with `request_id`, the
 * `WWW-Authenticate` challenge, `Retry-After`, `Allow`; an unknown error is a generic 500 with the
 * cause logged, never sent.
 *
 * @example
 * ```ts
 * app.onError(gatewayErrorHandler)
 * app.get('/orders/:id', (c) => {
 *   throw new GatewayError('not_found', 'No such order.') // → 404 {"error":"not_found",...}
 * })
 * ```
 */
export const gatewayErrorHandler: ErrorHandler<AppBindings> = function renderGatewayError(error, c) {
  const ctx = c.get('ctx')
  // Hono's validator refuses a body it cannot parse with its own exception: the same 400 as ours.
  const known =
    error instanceof HTTPException && error.status === 400
      ? new GatewayError('invalid_request', 'The request body is not valid JSON.')
      : error
  return renderError(
    known,
    ctx?.requestId ?? requestIdOf(c.req.raw),
    ctx?.config?.settings.realm ?? DEFAULT_REALM,
  )
}
