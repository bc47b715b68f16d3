import { describe, expect, it } from 'vitest'
import type { Principal } from '../authz/principal'
import { normalizeHeaderName } from '../config/header-names'
import { buildUpstreamHeaders, NAME_MEMO_CAPACITY, nameMemoSize, type UpstreamHeaderOptions } from './headers'

const GATEWAY_COOKIES: ReadonlySet<string> = new Set(['__Host-gw_session', '__Host-gw_csrf'])

function upstreamHeaders(
  incoming: HeadersInit | Headers,
  overrides: Partial<UpstreamHeaderOptions> = {},
): Headers {
  return buildUpstreamHeaders(incoming instanceof Headers ? incoming : new Headers(incoming), {
    requestId: 'req-1',
    proto: 'https',
    host: 'gateway.example',
    forwardAuthorization: false,
    gatewayCookies: GATEWAY_COOKIES,
    websocket: false,
    stripRequestHeaders: new Set(),
    ...overrides,
  })
}

const ALICE: Principal = {
  method: 'jwt',
  id: 'user-42',
  username: 'alice',
  roles: ['editor', 'user'],
  scopes: ['read', 'write'],
}

describe('normalizeHeaderName', () => {
  it.each([
    ['X-Auth-User', 'x-auth-user'],
    ['X_Auth_User', 'x-auth-user'],
    ['x.auth.user', 'x-auth-user'],
    ['Remote_User', 'remote-user'],
  ])('reads %s the way CGI, WSGI and nginx would: %s', (name, normalized) => {
    expect(normalizeHeaderName(name)).toBe(normalized)
  })
})

describe('spoofed identity headers', () => {
  it.each([
    'X-Auth-User',
    'X_Auth_User',
    'x.auth.user',
    'X-Auth-User-Id',
    'X-Auth-Roles',
    'X-Auth-Scopes',
    'X-Auth-Assertion',
    'X-Auth-Anything-Else',
    'X-Forwarded-User',
    'X-Forwarded-Email',
    'X-Forwarded-Groups',
    'X_Forwarded_User',
    'Remote-User',
    'Remote_User',
    'remote.user',
  ])('drops a client-sent %s on a public route', (name) => {
    const out = upstreamHeaders({ [name]: 'root' })
    expect(out.has(name)).toBe(false)
    expect([...out.values()]).not.toContain('root')
    expect(out.get('x-auth-method')).toBe('none')
  })

  it('replaces a client-sent X-Auth-Method: jwt with none on a public route', () => {
    expect(upstreamHeaders({ 'X-Auth-Method': 'jwt' }).get('x-auth-method')).toBe('none')
  })

  it('drops two client-sent X-Auth-User headers, which Headers joins into one', () => {
    const incoming = new Headers()
    incoming.append('X-Auth-User', 'alice')
    incoming.append('X-Auth-User', 'root')
    expect(incoming.get('x-auth-user')).toBe('alice, root')
    const out = upstreamHeaders(incoming)
    expect(out.get('x-auth-user')).toBeNull()
  })

  it('replaces client-sent identity with the principal the gateway authenticated', () => {
    const out = upstreamHeaders(
      { 'X-Auth-User': 'root', 'X-Auth-Roles': 'admin', X_Auth_User_Id: '0', 'X-Auth-Assertion': 'forged' },
      { principal: ALICE, assertion: 'header.payload.signature' },
    )
    expect(out.get('x-auth-user')).toBe('alice')
    expect(out.get('x-auth-roles')).toBe('editor,user')
    expect(out.get('x-auth-user-id')).toBe('user-42')
    expect(out.get('x_auth_user_id')).toBeNull()
    expect(out.get('x-auth-assertion')).toBe('header.payload.signature')
  })
})

// Identity headers of other auth proxies, which an upstream built behind one of them may trust.
const OTHER_PROXIES_IDENTITY = [
  // Authelia
  'Remote-Groups',
  'Remote-Email',
  'Remote-Name',
  'Remote_Email',
  'remote.groups',
  // Kubernetes front proxy
  'X-Remote-User',
  'X-Remote-Group',
  'X-Remote-Extra-Scopes',
  'X_Remote_Extra_Acme.com%2Fproject',
  'x.remote.user',
  // Grafana auth proxy
  'X-WEBAUTH-USER',
  'X-Webauth-Email',
  'x.webauth.user',
  'X_WEBAUTH_ROLE',
  // oauth2-proxy
  'X-Auth-Request-Email',
  'X-Auth-Request-User',
  'X_Auth_Request_Groups',
  'X-Auth-Request-Preferred-Username',
  'X-Forwarded-Preferred-Username',
  'x.forwarded.preferred.username',
  // Pomerium
  'X-Pomerium-Jwt-Assertion',
  'X-Pomerium-Claim-Email',
  'x_pomerium_claim_groups',
]

describe("other auth proxies' identity headers", () => {
  it.each(OTHER_PROXIES_IDENTITY)('drops a client-sent %s on a public route', (name) => {
    const out = upstreamHeaders({ [name]: 'root-spoof' })
    expect(out.has(name)).toBe(false)
    expect([...out.values()]).not.toContain('root-spoof')
  })

  it.each(OTHER_PROXIES_IDENTITY)('drops a client-sent %s for an authenticated caller too', (name) => {
    const out = upstreamHeaders({ [name]: 'root-spoof' }, { principal: ALICE })
    expect([...out.values()]).not.toContain('root-spoof')
  })

  it('keeps names that only resemble a family prefix (Remoteness, X-Remotely, X-Auth)', () => {
    const out = upstreamHeaders({ Remoteness: 'far', 'X-Remotely': 'yes', 'X-Auth': 'kept' })
    expect(out.get('remoteness')).toBe('far')
    expect(out.get('x-remotely')).toBe('yes')
    expect(out.get('x-auth')).toBe('kept')
  })
})

describe('site-specific headers (strip_request_headers)', () => {
  const strip: ReadonlySet<string> = new Set(['x-acme-user', 'x-acme-tenant'])

  it.each(['X-Acme-User', 'x_acme_user', 'X.ACME.USER', 'X-Acme-Tenant'])(
    'drops a client-sent %s listed in any spelling',
    (name) => {
      const out = upstreamHeaders(
        { [name]: 'root-spoof', 'X-Acme-Theme': 'dark' },
        { stripRequestHeaders: strip },
      )
      expect([...out.values()]).not.toContain('root-spoof')
      expect(out.get('x-acme-theme')).toBe('dark')
    },
  )

  it('forwards the same header when it is not listed', () => {
    expect(upstreamHeaders({ 'X-Acme-User': 'alice' }).get('x-acme-user')).toBe('alice')
  })
})

describe('identity injection', () => {
  it('sets every identity header from the principal', () => {
    const out = upstreamHeaders({}, { principal: ALICE, assertion: 'header.payload.signature' })
    expect(out.get('x-auth-user-id')).toBe('user-42')
    expect(out.get('x-auth-user')).toBe('alice')
    expect(out.get('x-auth-roles')).toBe('editor,user')
    expect(out.get('x-auth-scopes')).toBe('read write')
    expect(out.get('x-auth-method')).toBe('jwt')
    expect(out.get('x-auth-assertion')).toBe('header.payload.signature')
  })

  it('sets X-Auth-Issuer to the configured issuer name for an external principal', () => {
    const external: Principal = { ...ALICE, method: 'external_jwt', id: 'corp|42', issuerName: 'corp' }
    const out = upstreamHeaders({ 'X-Auth-Issuer': 'partner' }, { principal: external })
    expect(out.get('x-auth-issuer')).toBe('corp')
    expect(out.get('x-auth-user-id')).toBe('corp|42')
  })

  it('sends no X-Auth-Issuer for our own principals, even when the client sent one', () => {
    expect(upstreamHeaders({ 'X-Auth-Issuer': 'corp' }, { principal: ALICE }).get('x-auth-issuer')).toBeNull()
  })

  it.each(['jwt', 'external_jwt', 'api_key', 'basic', 'session'] as const)(
    'reports the auth method %s as X-Auth-Method',
    (method) => {
      expect(upstreamHeaders({}, { principal: { ...ALICE, method } }).get('x-auth-method')).toBe(method)
    },
  )

  it('sends empty roles and scopes as empty values rather than leaving a client value in place', () => {
    const out = upstreamHeaders(
      { 'X-Auth-Roles': 'admin', 'X-Auth-Scopes': 'admin:all' },
      { principal: { ...ALICE, roles: [], scopes: [] } },
    )
    expect(out.get('x-auth-roles')).toBe('')
    expect(out.get('x-auth-scopes')).toBe('')
  })

  it('sends X-Auth-Method none and no identity at all without a principal', () => {
    const out = upstreamHeaders({}, { assertion: 'header.payload.signature' })
    expect(out.get('x-auth-method')).toBe('none')
    for (const name of ['x-auth-user-id', 'x-auth-user', 'x-auth-roles', 'x-auth-scopes', 'x-auth-assertion'])
      expect(out.get(name)).toBeNull()
  })
})

describe('hop-by-hop and Connection-listed headers', () => {
  it('drops X-Auth-User even when the client also names it in Connection ("close, X-Auth-User")', () => {
    const out = upstreamHeaders({ Connection: 'close, X-Auth-User', 'X-Auth-User': 'root' })
    expect(out.get('connection')).toBeNull()
    expect(out.get('x-auth-user')).toBeNull()
  })

  it('drops a custom header the client names in Connection ("Connection: x-secret")', () => {
    const out = upstreamHeaders({ Connection: 'x-secret', 'X-Secret': 'hunter2', 'X-Other': 'kept' })
    expect(out.get('x-secret')).toBeNull()
    expect(out.get('x-other')).toBe('kept')
  })

  it('drops a Connection-listed header in its underscore spelling ("Connection: x_secret")', () => {
    const out = upstreamHeaders({ Connection: 'keep-alive, x_secret', 'X-Secret': 'hunter2' })
    expect(out.get('x-secret')).toBeNull()
  })

  it.each(['Keep-Alive', 'Proxy-Authorization', 'Proxy-Connection', 'TE', 'Trailer', 'Upgrade'])(
    'drops the hop-by-hop header %s',
    (name) => {
      expect(upstreamHeaders({ [name]: 'x' }).has(name)).toBe(false)
    },
  )

  it('keeps Upgrade: websocket only for a WebSocket handshake', () => {
    expect(upstreamHeaders({ Upgrade: 'websocket' }, { websocket: true }).get('upgrade')).toBe('websocket')
    expect(upstreamHeaders({ Upgrade: 'h2c' }).get('upgrade')).toBeNull()
  })
})

describe('forwarding and routing headers the client cannot vouch for', () => {
  it.each([
    'X-Forwarded-For',
    'X-Forwarded-Host',
    'X-Forwarded-Proto',
    'X-Forwarded-Prefix',
    'X-Forwarded-Uri',
    'X-Forwarded-Port',
    'Forwarded',
    'X-Real-IP',
    'True-Client-IP',
    'X-Original-URL',
    'X-Rewrite-URL',
  ])('replaces or drops a client-sent %s', (name) => {
    const out = upstreamHeaders({ [name]: '6.6.6.6' }, { clientIp: '203.0.113.7' })
    expect([...out.values()]).not.toContain('6.6.6.6')
  })

  it.each(['X-HTTP-Method-Override', 'X-Method-Override', 'X-HTTP-Method', 'X_HTTP_Method_Override'])(
    'drops a client-sent %s that could turn an authorized GET into a DELETE',
    (name) => {
      const out = upstreamHeaders({ [name]: 'DELETE' })
      expect([...out.values()]).not.toContain('DELETE')
    },
  )

  it('sets X-Forwarded-For from CF-Connecting-IP and discards the client-sent chain', () => {
    const out = upstreamHeaders(
      { 'X-Forwarded-For': '6.6.6.6, 10.0.0.1', 'CF-Connecting-IP': '6.6.6.6' },
      { clientIp: '203.0.113.7' },
    )
    expect(out.get('x-forwarded-for')).toBe('203.0.113.7')
    expect(out.get('cf-connecting-ip')).toBeNull()
  })

  it('sets X-Forwarded-Proto, X-Forwarded-Host and X-Request-Id itself', () => {
    const out = upstreamHeaders({
      'X-Forwarded-Proto': 'http',
      'X-Forwarded-Host': 'evil.example',
      'X-Request-Id': 'client-chosen',
    })
    expect(out.get('x-forwarded-proto')).toBe('https')
    expect(out.get('x-forwarded-host')).toBe('gateway.example')
    expect(out.get('x-request-id')).toBe('req-1')
  })

  it('drops the Host header so the upstream URL decides it', () => {
    expect(upstreamHeaders({ Host: 'evil.example' }).get('host')).toBeNull()
  })
})

describe('credentials the upstream must not see', () => {
  it('drops X-API-Key in any spelling', () => {
    const out = upstreamHeaders({ 'X-API-Key': 'gk_secret1', X_Api_Key: 'gk_secret2' })
    expect([...out.values()].join()).not.toContain('gk_secret')
  })

  it('drops Authorization by default', () => {
    expect(upstreamHeaders({ Authorization: 'Bearer eyJ.secret' }).get('authorization')).toBeNull()
  })

  it('forwards Authorization only when the route sets forward_authorization', () => {
    const out = upstreamHeaders({ Authorization: 'Bearer eyJ.secret' }, { forwardAuthorization: true })
    expect(out.get('authorization')).toBe('Bearer eyJ.secret')
  })

  it('strips the gateway session cookie and keeps the application cookies', () => {
    const out = upstreamHeaders({ Cookie: 'theme=dark; __Host-gw_session=s3cret; cart=42; __Host-gw_csrf=c' })
    expect(out.get('cookie')).toBe('theme=dark; cart=42')
  })

  it('strips a gateway cookie hidden in a second Cookie field that Headers joined with ", "', () => {
    const incoming = new Headers()
    incoming.append('Cookie', 'theme=dark')
    incoming.append('Cookie', '__Host-gw_session=s3cret')
    const out = upstreamHeaders(incoming)
    expect(out.get('cookie')).toBe('theme=dark')
  })

  it('keeps a cookie value that contains a comma', () => {
    expect(upstreamHeaders({ Cookie: 'list=a,b; __Host-gw_session=s' }).get('cookie')).toBe('list=a,b')
  })

  it('drops the Cookie header entirely when only gateway cookies were sent', () => {
    expect(upstreamHeaders({ Cookie: '__Host-gw_session=s3cret' }).get('cookie')).toBeNull()
  })
})

describe('ordinary headers', () => {
  it('forwards application headers unchanged', () => {
    const out = upstreamHeaders({
      Accept: 'application/json',
      'Content-Type': 'text/plain',
      'X-Trace': 'abc',
    })
    expect(out.get('accept')).toBe('application/json')
    expect(out.get('content-type')).toBe('text/plain')
    expect(out.get('x-trace')).toBe('abc')
  })

  it('does not mutate the incoming headers', () => {
    const incoming = new Headers({ 'X-Auth-User': 'root', Cookie: '__Host-gw_session=s' })
    upstreamHeaders(incoming, { principal: ALICE })
    expect(incoming.get('x-auth-user')).toBe('root')
    expect(incoming.get('cookie')).toBe('__Host-gw_session=s')
  })
})

describe('identity values outside printable ASCII', () => {
  it('are percent-encoded so no raw UTF-8 or control byte reaches the upstream', async () => {
    const { headerValue } = await import('./headers')
    expect(headerValue('alice')).toBe('alice')
    expect(headerValue('josé')).toBe('jos%C3%A9')
    expect(headerValue('a\u0000b')).toBe('a%00b')
  })
})

describe('the memo of header-name decisions', () => {
  it('keeps decisions apart per strip_request_headers set (one configuration cannot leak into another)', () => {
    const strict = new Set(['x-site-user'])
    const lax = new Set<string>()
    const incoming = { 'x-site-user': 'mallory', accept: 'text/plain' }
    expect(upstreamHeaders(incoming, { stripRequestHeaders: lax }).get('x-site-user')).toBe('mallory')
    expect(upstreamHeaders(incoming, { stripRequestHeaders: strict }).has('x-site-user')).toBe(false)
    expect(upstreamHeaders(incoming, { stripRequestHeaders: lax }).get('x-site-user')).toBe('mallory')
  })

  it('stays bounded under a flood of distinct header names, and still strips spoofed identity headers after it', () => {
    const site = new Set<string>()
    for (let batch = 0; batch < 3; batch++) {
      const flood: Record<string, string> = {}
      for (let i = 0; i < 500; i++) flood[`x-flood-${batch}-${i}`] = '1'
      upstreamHeaders(flood, { stripRequestHeaders: site })
      expect(nameMemoSize(site)).toBeLessThanOrEqual(NAME_MEMO_CAPACITY)
    }
    const out = upstreamHeaders(
      { 'x-auth-user': 'admin', 'remote-user': 'admin' },
      { stripRequestHeaders: site },
    )
    expect(out.has('remote-user')).toBe(false)
    expect(out.get('x-auth-user')).toBeNull()
  })
})
