import type { Principal } from '../authz/principal'
import { GatewayError } from '../errors/gateway-error'

/**
 * Step-up for actions that outlive the credential asking for them (minting an API key): the
 * access token must say the user authenticated with a password or a provider at most `maxAge`
 * seconds ago (`auth_time`, which a refresh does not renew). Otherwise a stolen 15-minute token,
 * or the refresh token behind it, could buy a credential that lasts months.
 *
 * The refusal is RFC 9470's: 401 `insufficient_user_authentication` with `max_age`, so a client
 * knows to sign the user in again (password grant, login) and retry with the new token.
 */
export interface RecentAuthenticationOptions {
  maxAgeSeconds: number
  /** An `auth_time` up to this far in the future is still "now" (the issuer's clock may lead). */
  clockSkewSeconds: number
  /** Seconds since epoch; defaults to the current time. */
  now?: number
}

export function assertRecentAuthentication(principal: Principal, options: RecentAuthenticationOptions): void {
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const authTime = principal.authTime
  const recent =
    authTime !== undefined &&
    authTime <= now + options.clockSkewSeconds &&
    now - authTime <= options.maxAgeSeconds
  if (recent) return
  const description = `Sign in again: this requires an access token from a login within the last ${options.maxAgeSeconds} seconds.`
  throw new GatewayError('insufficient_user_authentication', description, {
    challenge: {
      scheme: 'Bearer',
      error: 'insufficient_user_authentication',
      description,
      maxAge: options.maxAgeSeconds,
    },
  })
}
