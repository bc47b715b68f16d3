import { describe, expect, it } from 'vitest'
import type { Principal } from '../authz/principal'
import { GatewayError } from '../errors/gateway-error'
import { renderError } from '../errors/render'
import { assertRecentAuthentication } from './recent-authentication'

const NOW = 1_800_000_000
const options = { maxAgeSeconds: 300, clockSkewSeconds: 30, now: NOW }

function principal(authTime: number | undefined): Principal {
  return { method: 'jwt', id: 'u1', username: 'u1', roles: ['user'], scopes: [], authTime }
}

function refusal(authTime: number | undefined): GatewayError {
  try {
    assertRecentAuthentication(principal(authTime), options)
  } catch (error) {
    if (error instanceof GatewayError) return error
    throw error
  }
  throw new Error('accepted')
}

describe('assertRecentAuthentication', () => {
  it.each([
    ['a login just now', NOW],
    ['a login exactly max_age ago', NOW - 300],
    ['a login within the clock skew ahead', NOW + 30],
  ])('accepts %s', (_label, authTime) => {
    expect(() => assertRecentAuthentication(principal(authTime), options)).not.toThrow()
  })

  it.each([
    ['a login one second too old', NOW - 301],
    ['no auth_time at all (a client token, a pre-upgrade token)', undefined],
    ['a login beyond the clock skew in the future', NOW + 31],
  ])('refuses %s with 401 insufficient_user_authentication', (_label, authTime) => {
    const error = refusal(authTime)
    expect(error.code).toBe('insufficient_user_authentication')
    expect(error.status).toBe(401)
  })

  it('renders the RFC 9470 challenge: error, error_description, and max_age as a bare integer', () => {
    const response = renderError(refusal(NOW - 1_000), 'req-1', 'gw')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="gw", error="insufficient_user_authentication", error_description="Sign in again: this requires an access token from a login within the last 300 seconds.", max_age=300',
    )
  })
})
