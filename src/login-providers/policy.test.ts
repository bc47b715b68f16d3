import { describe, expect, it } from 'vitest'
import { githubProviderSchema, oidcProviderSchema } from '../config/login-providers'
import { checkAllowed, rolesForNewUser, usernameBase } from './policy'
import type { ExternalProfile } from './profile'

const oidc = (extra: Record<string, unknown> = {}) =>
  oidcProviderSchema.parse({
    name: 'corp',
    display_name: 'Corp',
    kind: 'oidc',
    issuer: 'https://idp.example.com',
    client_id: 'c',
    client_secret_secret: 'S',
    ...extra,
  })
const github = (extra: Record<string, unknown> = {}) =>
  githubProviderSchema.parse({
    name: 'gh',
    display_name: 'GitHub',
    kind: 'github',
    client_id: 'c',
    client_secret_secret: 'S',
    scopes: ['read:user', 'user:email', 'read:org'],
    ...extra,
  })
const profile = (extra: Partial<ExternalProfile> = {}): ExternalProfile => ({
  subject: '1',
  email: 'ada@example.com',
  emailVerified: true,
  usernameHint: 'ada',
  display: 'ada',
  groups: [],
  ...extra,
})

describe('checkAllowed', () => {
  it('a domain allow-list needs a verified email in the domain (case-insensitive, exact domain)', () => {
    const provider = oidc({ allowed_email_domains: ['example.com'] })
    expect(checkAllowed(provider, profile()).allow).toBe(true)
    expect(checkAllowed(provider, profile({ email: 'ada@EXAMPLE.COM' })).allow).toBe(true)
    expect(checkAllowed(provider, profile({ emailVerified: false })).allow).toBe(false)
    expect(checkAllowed(provider, profile({ email: 'ada@evil-example.com' })).allow).toBe(false)
    expect(checkAllowed(provider, profile({ email: 'ada@sub.example.com' })).allow).toBe(false)
    expect(checkAllowed(provider, profile({ email: 'ada@example.com@evil.test' })).allow).toBe(false)
    expect(checkAllowed(provider, profile({ email: null })).allow).toBe(false)
  })

  it('an org allow-list needs membership (GitHub logins are case-insensitive)', () => {
    const provider = github({ allowed_orgs: ['Acme'] })
    expect(checkAllowed(provider, profile({ groups: ['acme'] })).allow).toBe(true)
    expect(checkAllowed(provider, profile({ groups: ['acme-evil'] })).allow).toBe(false)
    expect(checkAllowed(provider, profile()).allow).toBe(false)
  })
})

describe('rolesForNewUser', () => {
  it('default roles plus the mapped ones; unmapped values grant nothing', () => {
    const provider = oidc({ default_roles: ['user'], role_map: { admins: ['admin'] } })
    expect(rolesForNewUser(provider, profile({ groups: ['admins', 'other'] }), ['x'])).toEqual([
      'admin',
      'user',
    ])
    expect(rolesForNewUser(provider, profile({ groups: ['ADMINS'] }), ['x'])).toEqual(['user'])
    expect(rolesForNewUser(oidc(), profile(), ['user'])).toEqual(['user'])
  })
})

describe('usernameBase', () => {
  it('keeps only username characters and falls back when too little is left', () => {
    expect(usernameBase('Ada Lovelace', 'corp')).toBe('AdaLovelace')
    expect(usernameBase('.-ada', 'corp')).toBe('ada')
    expect(usernameBase('李', 'corp')).toBe('corp-user')
    expect(usernameBase('x'.repeat(100), 'corp')).toHaveLength(56)
  })
})
