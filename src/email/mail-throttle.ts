import type { Context } from 'hono'
import type { AppBindings } from '../env'
import { isGatewayError } from '../errors/gateway-error'
import { reserveEmailRequest } from '../users'

/**
 * Reserves one mail request for the submitted address and the client address (an IPv6 client by
 * its /64), `email.per_address_per_hour` and `per_ip_per_hour`. Undefined when admitted; when not,
 * sets `Retry-After` and returns the seconds, so the caller can answer 429 with its own page.
 */
export async function admitMailRequest(c: Context<AppBindings>, email: string): Promise<number | undefined> {
  const settings = c.var.ctx.config.settings.email
  try {
    await reserveEmailRequest(
      c.env.DB,
      { perAddressPerHour: settings.per_address_per_hour, perIpPerHour: settings.per_ip_per_hour },
      { email, ip: c.req.header('cf-connecting-ip') },
    )
    return undefined
  } catch (error) {
    if (!isGatewayError(error) || error.code !== 'rate_limited') throw error
    const seconds = Math.max(1, Math.ceil(error.retryAfter ?? 60))
    c.header('retry-after', String(seconds))
    return seconds
  }
}
