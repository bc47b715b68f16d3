/** HTML error rendering for the browser endpoints' requests that asked for a page. */
import type { Context, MiddlewareHandler } from 'hono'
import type { AppBindings } from '../env'
import { type ErrorCode, isGatewayError } from '../errors/gateway-error'
import { ErrorPage } from './error-page'
import { type PageStatus, pageResponse } from './render'

export function wantsHtml(request: Request): boolean {
  return (request.headers.get('accept') ?? '').toLowerCase().includes('text/html')
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  csrf_failed: 'Request refused',
  not_found: 'Not found',
  invalid_credentials: 'Signed out',
  invalid_token: 'Signed out',
  forbidden: 'Not allowed',
  conflict: 'Not possible',
  rate_limited: 'Too many requests',
}

async function renderErrorPage(c: Context<AppBindings>, error: Error): Promise<Response> {
  const known = isGatewayError(error) ? error : undefined
  const status =
    known && [401, 403, 404, 409, 429].includes(known.status) ? (known.status as PageStatus) : undefined
  if (!known || !status) return c.res // 400s and 5xx keep the JSON body the error handler wrote.
  // Hono carries the error response's own headers (Retry-After, X-Request-Id) over to this one.
  return pageResponse(
    ErrorPage({
      productName: c.var.ctx.config.settings.product_name,
      title: TITLES[known.code] ?? 'Something went wrong',
      message: known.message,
      requestId: c.var.ctx.requestId,
    }),
    status,
  )
}

/** Middleware for browser endpoints: a failed request that asked for HTML gets the error page. */
export function htmlErrors(): MiddlewareHandler<AppBindings> {
  return async function renderHtmlErrors(c, next) {
    await next()
    if (c.error && wantsHtml(c.req.raw)) c.res = await renderErrorPage(c, c.error)
  }
}
