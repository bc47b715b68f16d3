import { describe, expect, it } from 'vitest'
import type { Principal } from '../authz/principal'
import { AssertionCache } from './assertion-cache'

const AUDIENCE = 'https://upstream.example'

function principal(extra: Partial<Principal> = {}): Principal {
  return { method: 'jwt', id: 'user-1', username: 'ada', roles: ['user'], scopes: ['read'], ...extra }
}

describe('the assertion cache key', () => {
  it('is the same for a new token of the same caller (another jti, expiry and session): the assertion is reused', () => {
    const first = principal({ tokenId: 'jti-1', expiresAt: 100, sessionId: 's-1' })
    const second = principal({ tokenId: 'jti-2', expiresAt: 200, sessionId: 's-2' })
    expect(AssertionCache.keyFor(second, AUDIENCE)).toBe(AssertionCache.keyFor(first, AUDIENCE))
  })

  it.each<[string, Partial<Principal>]>([
    ['an app acting for the user (client_id, delegated)', { clientId: 'app-1' }],
    ['the same client marked first-party (no azp)', { clientId: 'app-1', firstParty: true }],
    ['another sign-in method (amr)', { amr: ['pwd', 'otp'] }],
    ['another authentication class (acr)', { acr: 'urn:mfa' }],
    ['another sign-in time', { authTime: 1_700_000_000 }],
    ['another login provider', { loginProvider: 'github' }],
    ['another external issuer', { issuerName: 'idp' }],
    ['another credential kind', { method: 'session' }],
    ['another role', { roles: ['admin'] }],
    ['another scope', { scopes: ['read', 'write'] }],
  ])('differs for %s: one caller never gets an assertion minted for another', (_, change) => {
    expect(AssertionCache.keyFor(principal(change), AUDIENCE)).not.toBe(
      AssertionCache.keyFor(principal(), AUDIENCE),
    )
  })

  it('differs per upstream (aud)', () => {
    expect(AssertionCache.keyFor(principal(), 'https://other.example')).not.toBe(
      AssertionCache.keyFor(principal(), AUDIENCE),
    )
  })
})
