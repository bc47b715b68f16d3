/**
 * What every email page shares: the CSRF check of its forms (the login form's rule: pre-session
 * token + same origin), the dead-link page, and the 429 answer of a throttled request.
 */
import type { Context } from 'hono'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { type PageStatus, renderPage } from '../pages/render'
import { loginFormAllowed, presentedCsrfCookie } from '../sessions'
import { reserveEmailRequest } from '../users'
import { LinkDeadPage } from './email-pages'

export const DEAD_LINK = 'The link has expired or was already used. Links work once, for 30 minutes.'
export const FORM_EXPIRED = 'This form has expired or was sent from another site. Open the link again.'
export const TOO_MANY = 'Too many requests. Try again later.'

export function productName(c: Context<AppBindings>): string {
  return c.var.ctx.config.settings.product_name
}

export function csrfOk(c: Context<AppBindings>, form: URLSearchParams): Promise<boolean> {
  return loginFormAllowed({
    request: c.req.raw,
    config: c.var.ctx.config,
    cookieToken: presentedCsrfCookie(c),
    field: form.get('csrf'),
  })
}

export function deadLink(c: Context<AppBindings>, status: PageStatus = 400) {
  return renderPage(c, LinkDeadPage({ productName: productName(c), message: DEAD_LINK }), status)
}

/**
 * Runs a throttle reservation; a `rate_limited` refusal sets `Retry-After` and returns true (the
 * caller answers 429 with its page), any other error propagates.
 */
export async function refusedAsThrottled(
  c: Context<AppBindings>,
  reserve: () => Promise<void>,
): Promise<boolean> {
  try {
    await reserve()
    return false
  } catch (error) {
    if (!isGatewayError(error) || error.code !== 'rate_limited') throw error
    c.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter ?? 60))))
    return true
  }
}

/**
 * Reserves one request for mail to `email` (per submitted address, and per client address: an
 * IPv6 client by its /64); true when refused, with `Retry-After` set (the caller answers 429).
 */
export function mailRequestRefused(c: Context<AppBindings>, email: string): Promise<boolean> {
  const settings = c.var.ctx.config.settings.email
  const limits = { perAddressPerHour: settings.per_address_per_hour, perIpPerHour: settings.per_ip_per_hour }
  const ip = c.req.header('cf-connecting-ip')
  return refusedAsThrottled(c, () => reserveEmailRequest(c.env.DB, limits, { email, ip }))
}
