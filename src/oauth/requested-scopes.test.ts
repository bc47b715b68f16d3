import { describe, expect, it } from 'vitest'
import { authorizationScopes } from './requested-scopes'

describe('the scopes of an authorization code', () => {
  const client = ['openid', 'profile', 'read', 'write']
  const user = new Set(['read'])

  it('grants what was asked when the client is registered for it and the user holds it', () => {
    expect(authorizationScopes(['read', 'openid'], client, user)).toEqual(['openid', 'read'])
  })

  it('needs no role for the identity scopes, but still the client registration', () => {
    expect(authorizationScopes(['openid', 'profile'], client, new Set())).toEqual(['openid', 'profile'])
    expect(() => authorizationScopes(['email'], client, user)).toThrow(/email/)
  })

  it('refuses escalation beyond the user (write without the editor role)', () => {
    expect(() => authorizationScopes(['read', 'write'], client, user)).toThrow(
      expect.objectContaining({ code: 'invalid_scope' }),
    )
  })

  it('refuses escalation beyond the client (admin held by the user, not registered for the app)', () => {
    expect(() => authorizationScopes(['admin'], client, new Set(['admin']))).toThrow(
      expect.objectContaining({ code: 'invalid_scope' }),
    )
  })

  it('grants the client’s registered scopes the user may hold when none is asked for', () => {
    expect(authorizationScopes(undefined, client, user)).toEqual(['openid', 'profile', 'read'])
  })
})
