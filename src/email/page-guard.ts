/**
 * What every email page shares: the CSRF check of its forms (the login form's rule: pre-session
 * token + same origin), the dead-link page, and the two limits in front of a mail request or a code
 * check (the rate-limit binding first, then D1's exact hourly reservation) with their 429 answer.
 */
import type { Context } from 'hono'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { type PageStatus, renderPage } from '../pages/render'
import { limitRequest } from '../rate-limit'
import { loginFormAllowed, presentedCsrfCookie } from '../sessions'
import { reserveEmailCodeCheck, reserveEmailRequest } from '../users'
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
 * The limits of a request that sends mail to `email` (reset, sign-in link or code): per client
 * address and per recipient. True when refused (`Retry-After` set; the caller answers 429).
 */
export function mailRequestRefused(c: Context<AppBindings>, email: string): Promise<boolean> {
  const settings = c.var.ctx.config.settings.email
  const limits = { perAddressPerHour: settings.per_address_per_hour, perIpPerHour: settings.per_ip_per_hour }
  const ip = c.req.header('cf-connecting-ip')
  return refusedAsThrottled(c, async () => {
    await limitRequest(c.env, { kind: 'email', ip, email })
    await reserveEmailRequest(c.env.DB, limits, { email, ip })
  })
}

/**
 * The limits of an emailed code's check: each mail an address may get per hour brings one code's
 * worth of tries, per recipient and per client address. True when refused, as above.
 */
export function codeCheckRefused(c: Context<AppBindings>, email: string): Promise<boolean> {
  const settings = c.var.ctx.config.settings.email
  const limits = {
    perAddressPerHour: settings.per_address_per_hour * settings.code_max_attempts,
    perIpPerHour: settings.per_ip_per_hour * settings.code_max_attempts,
  }
  const ip = c.req.header('cf-connecting-ip')
  return refusedAsThrottled(c, async () => {
    await limitRequest(c.env, { kind: 'code', ip, subject: `email:${email}` })
    await reserveEmailCodeCheck(c.env.DB, limits, { email, ip })
  })
}
