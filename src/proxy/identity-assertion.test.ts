import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import type { Principal } from '../authz/principal'
import { assertionFor, loadKeyRing } from '../tokens'
import { buildUpstreamHeaders, headerValue, type UpstreamHeaderOptions } from './headers'

// A route with `identity = "assertion"` (CONTRACT "What the upstream receives") sends
// X-Auth-Assertion and X-Auth-User-Id only; the assertion's claims must say everything the other
// identity headers would, or an upstream in that mode loses information.

function upstreamHeaders(
  incoming: Record<string, string>,
  overrides: Partial<UpstreamHeaderOptions>,
): Headers {
  return buildUpstreamHeaders(new Headers(incoming), {
    requestId: 'req-1',
    clientIp: '203.0.113.7',
    proto: 'https',
    host: 'gateway.example',
    forwardAuthorization: false,
    gatewayCookies: new Set(['__Host-gw_session']),
    websocket: false,
    stripRequestHeaders: new Set(['x-acme-user']),
    ...overrides,
  })
}

function identityNames(headers: Headers): string[] {
  return [...headers.keys()].filter((name) => name.startsWith('x-auth-')).sort()
}

// A first-party user token: the common caller.
const ERIN: Principal = { method: 'jwt', id: 'user-7', username: 'erin', roles: ['editor'], scopes: ['read'] }

// Every kind of principal whose headers differ: a user token, an external IdP's subject (with
// X-Auth-Issuer), a delegated app token, a federated browser session, a non-ASCII name.
const PRINCIPALS: [string, Principal][] = [
  ['a user token', ERIN],
  [
    'an external issuer’s subject',
    {
      method: 'external_jwt',
      id: 'corp|u-7',
      username: 'José',
      roles: [],
      scopes: ['read'],
      issuerName: 'corp',
    },
  ],
  [
    'a delegated app token',
    { method: 'jwt', id: 'user-9', username: 'bob', roles: ['user'], scopes: ['read'], clientId: 'app-1' },
  ],
  [
    'a session through a login provider',
    {
      method: 'session',
      id: 'user-5',
      username: 'carol',
      roles: ['admin'],
      scopes: [],
      amr: ['fed'],
      authTime: 1_800_000_000,
      loginProvider: 'github',
    },
  ],
  ['an API key', { method: 'api_key', id: 'user-3', username: 'dave', roles: ['user'], scopes: ['read'] }],
]

describe('identity = "assertion"', () => {
  it('sends X-Auth-Assertion and X-Auth-User-Id only, with X-Request-Id and X-Forwarded-*', () => {
    const out = upstreamHeaders({}, { principal: ERIN, assertion: 'h.p.s', identity: 'assertion' })
    // Every header the upstream gets from an empty request: nothing else.
    expect(Object.fromEntries(out)).toEqual({
      'x-auth-user-id': 'user-7',
      'x-auth-assertion': 'h.p.s',
      'x-request-id': 'req-1',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'gateway.example',
    })
  })

  it('the default, identity = "headers", sends the full set', () => {
    const out = upstreamHeaders({}, { principal: ERIN, assertion: 'h.p.s' })
    expect(identityNames(out)).toEqual([
      'x-auth-assertion',
      'x-auth-method',
      'x-auth-roles',
      'x-auth-scopes',
      'x-auth-user',
      'x-auth-user-id',
    ])
  })

  it.each([
    'X-Auth-User',
    'X_Auth_Roles',
    'x.auth.scopes',
    'X-Auth-Method',
    'X-Auth-Issuer',
    'X-Auth-User-Id',
    'X-Auth-Assertion',
    'X-Forwarded-User',
    'Remote-User',
    'X-Pomerium-Claim-Email',
    'X_Acme_User',
  ])('still drops a client-sent %s (the headers it no longer sets cannot be forged either)', (name) => {
    const out = upstreamHeaders(
      { [name]: 'root-spoof' },
      { principal: ERIN, assertion: 'h.p.s', identity: 'assertion' },
    )
    expect([...out.values()]).not.toContain('root-spoof')
    expect(identityNames(out)).toEqual(['x-auth-assertion', 'x-auth-user-id'])
  })

  it('leaves a public request as it is: X-Auth-Method none and no identity header', () => {
    const out = upstreamHeaders({ 'X-Auth-User': 'root-spoof' }, { identity: 'assertion' })
    expect(identityNames(out)).toEqual(['x-auth-method'])
    expect(out.get('x-auth-method')).toBe('none')
  })
})

// Each identity header, read back from the assertion's claims (docs/upstream.md has the table).
const CLAIM_OF: Record<string, (claims: Record<string, unknown>) => unknown> = {
  'x-auth-user-id': (claims) => claims.sub,
  'x-auth-user': (claims) => claims.username,
  'x-auth-roles': (claims) => (claims.roles as string[]).join(','),
  'x-auth-scopes': (claims) => claims.scope,
  'x-auth-method': (claims) => claims.auth_method,
  'x-auth-issuer': (claims) => claims.idp,
}

describe('the assertion carries everything the identity headers carry', () => {
  it.each(PRINCIPALS)('for %s', async (_kind, principal) => {
    const ring = await loadKeyRing(env.SIGNING_KEYS)
    const assertion = await assertionFor(ring, principal, {
      issuer: 'https://gateway.example',
      audience: 'https://api.internal',
      ttlSeconds: 60,
    })
    const claims = decodeJwt(assertion)
    const full = upstreamHeaders({}, { principal, assertion })
    for (const name of identityNames(full)) {
      if (name === 'x-auth-assertion') continue
      // A new identity header must come with its claim, or assertion mode would drop it.
      expect(Object.keys(CLAIM_OF), `no claim says what ${name} says`).toContain(name)
      const claim = CLAIM_OF[name]?.(claims)
      expect(typeof claim, name).toBe('string')
      expect(headerValue(claim as string), name).toBe(full.get(name))
    }
  })
})
