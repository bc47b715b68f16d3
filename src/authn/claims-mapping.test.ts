import type { JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../errors/gateway-error'
import { type ClaimsMappingOptions, mapExternalClaims, readClaim } from './claims-mapping'

const DEFAULTS: ClaimsMappingOptions = {
  roles_claim: 'roles',
  scopes_claim: 'scope',
  role_map: {},
  allowed_scopes: [],
  username_claim: 'sub',
}

const READ_WRITE: Partial<ClaimsMappingOptions> = { allowed_scopes: ['read', 'write'] }

function map(payload: JWTPayload, options: Partial<ClaimsMappingOptions> = {}) {
  return mapExternalClaims({ sub: 'user-1', ...payload }, { ...DEFAULTS, ...options })
}

function rejection(run: () => unknown): GatewayError {
  try {
    run()
  } catch (error) {
    if (error instanceof GatewayError) return error
    throw error
  }
  throw new Error('expected the claims to be rejected')
}

describe('roles from the configured claim', () => {
  it.each([
    ['Okta/Entra `groups` array', { groups: ['admins', 'staff'] }, 'groups'],
    [
      'Keycloak `realm_access.roles` (a dot path)',
      { realm_access: { roles: ['admins', 'staff'] } },
      'realm_access.roles',
    ],
    ['a comma-separated string', { roles: 'admins,staff' }, 'roles'],
    ['a space-separated string', { roles: 'admins staff' }, 'roles'],
    [
      'a URL-named claim with dots (Auth0 namespaced)',
      { 'https://example.test/roles': ['admins', 'staff'] },
      'https://example.test/roles',
    ],
  ])('maps %s through role_map', (_name, claims, rolesClaim) => {
    const mapped = map(claims, { roles_claim: rolesClaim, role_map: { admins: ['admin'], staff: ['user'] } })
    expect(mapped.roles).toEqual(['admin', 'user'])
  })

  it('drops values the role_map does not name (an unknown IdP group grants nothing)', () => {
    const mapped = map(
      { groups: ['admins', 'everyone', 'admin'] },
      { roles_claim: 'groups', role_map: { admins: ['editor'] } },
    )
    expect(mapped.roles).toEqual(['editor'])
  })

  it('with no role_map grants no roles, even for a token that says roles: ["admin"]', () => {
    const mapped = map({ roles: ['admin', 'editor', 'Domain Admins', 'user'] })
    expect(mapped.roles).toEqual([])
  })

  it('does not pass an unmapped value named like one of our roles through a non-empty role_map', () => {
    const mapped = map({ roles: ['admin', 'staff'] }, { role_map: { staff: ['user'] } })
    expect(mapped.roles).toEqual(['user'])
  })

  it('maps one external value to several roles, without duplicates', () => {
    const mapped = map({ roles: ['a', 'b'] }, { role_map: { a: ['user', 'editor'], b: ['editor'] } })
    expect(mapped.roles).toEqual(['user', 'editor'])
  })

  it('does not read inherited properties: "constructor" or "__proto__" map to nothing', () => {
    const mapped = map(
      { roles: ['constructor', '__proto__', 'toString'] },
      { role_map: { admins: ['admin'] } },
    )
    expect(mapped.roles).toEqual([])
    expect(readClaim({ sub: 'x' }, 'constructor')).toBeUndefined()
    expect(readClaim({ sub: 'x' }, 'sub.length')).toBeUndefined()
  })

  it('yields no roles when the claim is absent', () => {
    expect(map({}).roles).toEqual([])
  })

  it.each([
    ['a number', { roles: 5 }],
    ['an object', { roles: { admin: true } }],
    ['an array with a non-string', { roles: ['user', 7] }],
    ['more than 256 values', { roles: Array.from({ length: 257 }, (_, i) => `r${i}`) }],
    ['a value longer than 256 characters', { roles: ['a'.repeat(257)] }],
  ])('rejects the token when the roles claim is %s', (_name, claims) => {
    const error = rejection(() => map(claims))
    expect(error.code).toBe('invalid_token')
    expect(error.message).toBe('The access token\'s "roles" claim is not acceptable.')
  })
})

describe('scopes from the configured claim', () => {
  it.each([
    ['a space-separated `scope` string', 'scope', { scope: 'read write' }],
    ['an Okta `scp` array', 'scp', { scp: ['read', 'write'] }],
    ['an Entra `scp` string', 'scp', { scp: 'read write' }],
    ['an Auth0 `permissions` array', 'permissions', { permissions: ['read', 'write'] }],
  ])('reads %s', (_name, scopesClaim, claims) => {
    expect(map(claims, { ...READ_WRITE, scopes_claim: scopesClaim }).scopes).toEqual(['read', 'write'])
  })

  it('keeps allowed scope syntax other than ours (read:messages, User.Read) as sent', () => {
    expect(
      map(
        { permissions: ['read:messages', 'User.Read'] },
        { scopes_claim: 'permissions', allowed_scopes: ['read:messages', 'User.Read'] },
      ).scopes,
    ).toEqual(['read:messages', 'User.Read'])
  })

  it('drops scopes outside allowed_scopes (the IdP cannot grant "admin" it was not trusted for)', () => {
    expect(map({ scope: 'read admin write delete' }, READ_WRITE).scopes).toEqual(['read', 'write'])
  })

  it('grants no scopes without allowed_scopes, whatever the token says', () => {
    expect(map({ scope: 'read write admin' }).scopes).toEqual([])
  })

  it('compares scopes exactly (case and look-alikes do not match)', () => {
    expect(map({ scope: 'READ Read writе' }, READ_WRITE).scopes).toEqual([])
  })

  it('rejects an array scope containing a space (it would read as two scopes upstream)', () => {
    const error = rejection(() => map({ scp: ['read write'] }, { scopes_claim: 'scp' }))
    expect(error.message).toContain('"scp"')
  })

  it('yields no scopes when the claim is absent', () => {
    expect(map({}).scopes).toEqual([])
  })
})

describe('header-splitting values are refused', () => {
  it.each([
    ['CR LF in a role', { roles: ['user\r\nX-Auth-Roles: admin'] }],
    ['LF in a role string', { roles: 'user\nadmin' }],
    ['NUL in a scope', { scope: 'read\u0000' }],
    ['CR in a scope array', { scp: ['read\r'] }],
    ['LF in the username', { preferred_username: 'alice\nX-Auth-User-Id: root' }],
    ['a C1 control character in a role', { roles: ['user\u0085'] }],
  ])('rejects the token with %s', (_name, claims) => {
    const error = rejection(() =>
      map(claims, { scopes_claim: 'scp' in claims ? 'scp' : 'scope', username_claim: 'preferred_username' }),
    )
    expect(error.code).toBe('invalid_token')
    expect(error.challenge).toEqual({ scheme: 'Bearer', error: 'invalid_token' })
  })

  it('rejects a sub with CR LF', () => {
    expect(rejection(() => mapExternalClaims({ sub: 'a\r\nb' }, DEFAULTS)).message).toContain('"sub"')
  })
})

describe('username', () => {
  it('comes from username_claim', () => {
    expect(map({ preferred_username: 'alice' }, { username_claim: 'preferred_username' }).username).toBe(
      'alice',
    )
  })

  it('falls back to sub when the claim is absent', () => {
    expect(map({}, { username_claim: 'preferred_username' }).username).toBe('user-1')
  })

  it('rejects a username that is not a string', () => {
    expect(rejection(() => map({ email: ['a@b'] }, { username_claim: 'email' })).message).toContain('"email"')
  })
})
