import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/app'
import { type GatewayConfig, parseConfig } from '../src/config/load'
import type { Env } from '../src/env'
import { GatewayError } from '../src/errors/gateway-error'
import { canonicalizePath } from '../src/routing/canonical-path'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from './support/gateway'

const ROUTE = { upstream: 'UPSTREAM_URL' }
const METHOD_TOKEN_MESSAGE =
  'must be an uppercase HTTP method token (RFC 9110 §9.1), e.g. "GET" or "PROPFIND"'

function problemsOf(overrides: Partial<Env>): string[] {
  const result = parseConfig({ ...env, ...overrides })
  return result.ok ? [] : result.problems
}

function configOf(overrides: Partial<Env>): GatewayConfig {
  const result = parseConfig({ ...env, ...overrides })
  if (!result.ok) throw new Error(result.problems.join('; '))
  return result.config
}

/** The matched route's path, or the error code the match throws. */
function matched(config: GatewayConfig, path: string, method = 'GET', host = 'gateway.test'): string {
  try {
    return config.routeTable.match(method, host, canonicalizePath(path)).path
  } catch (error) {
    if (error instanceof GatewayError) return error.code
    throw error
  }
}

/** Like fetchWithEnv, for a full URL (another host name). */
async function fetchUrlWithEnv(
  overrides: Partial<Env>,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await createApp().fetch(new Request(url, init), { ...env, ...overrides }, ctx)
  await waitOnExecutionContext(ctx)
  return response
}

/** Sends a tagged request; returns the status, the error code (if JSON) and what the upstream received. */
async function probe(
  send: (init: RequestInit) => Promise<Response>,
  init: RequestInit = {},
): Promise<{ status: number; error?: string; forwarded: string[] }> {
  const id = testId()
  const headers = new Headers(init.headers)
  headers.set('x-test-id', id)
  const response = await send({ ...init, headers })
  const text = await response.text()
  const error =
    response.headers.get('content-type')?.includes('json') && text !== ''
      ? (JSON.parse(text) as { error?: string }).error
      : undefined
  const forwarded = (await upstreamReceived(id)).map((received) => received.url)
  return { status: response.status, error, forwarded }
}

describe('an invalid route table is reported with the field and the reason', () => {
  it.each<[string, Partial<Env>, string]>([
    [
      'a route without an upstream',
      { ROUTES: [{ path: '/api' }] },
      'ROUTES[0].upstream: Invalid input: expected string, received undefined',
    ],
    [
      'an upstream var that is not set',
      { ROUTES: [{ path: '/api', upstream: 'BILLING_URL' }] },
      'ROUTES[0].upstream: var BILLING_URL is not set to an origin like "https://api.internal"',
    ],
    [
      'an upstream var that holds a URL with a path',
      { BILLING_URL: 'https://billing.internal/v1', ROUTES: [{ path: '/api', upstream: 'BILLING_URL' }] },
      'ROUTES[0].upstream: var BILLING_URL is not set to an origin like "https://api.internal"',
    ],
    [
      'an upstream URL with a path',
      { ROUTES: [{ path: '/api', upstream: 'https://api.internal/v1' }] },
      'ROUTES[0].upstream: must be an origin like "https://api.internal" (no path) or the name of a var that holds one',
    ],
    ['a relative path', { ROUTES: [{ ...ROUTE, path: 'api' }] }, 'ROUTES[0].path: must start with "/"'],
    [
      'a path with a trailing slash',
      { ROUTES: [{ ...ROUTE, path: '/api/' }] },
      'ROUTES[0].path: must be canonical (no trailing slash, no encoded unreserved characters)',
    ],
    [
      'a non-canonical path (/api/%61dmin)',
      { ROUTES: [{ ...ROUTE, path: '/api/%61dmin' }] },
      'ROUTES[0].path: must be canonical (no trailing slash, no encoded unreserved characters)',
    ],
    [
      'a path with a dot segment',
      { ROUTES: [{ ...ROUTE, path: '/api/../admin' }] },
      'ROUTES[0].path: The request path was rejected: dot segments are not allowed.',
    ],
    [
      'an unknown field (a typo of roles)',
      { ROUTES: [{ ...ROUTE, path: '/api', rolez: ['admin'] }] },
      'ROUTES[0]: Unrecognized key: "rolez"',
    ],
    [
      'a method that is not an RFC 9110 token (two methods in one string)',
      { ROUTES: [{ ...ROUTE, path: '/api', methods: ['GET POST'] }] },
      `ROUTES[0].methods[0]: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'a lowercase method, which would never equal the uppercase one a client sends',
      { ROUTES: [{ ...ROUTE, path: '/api', methods: ['propfind'] }] },
      `ROUTES[0].methods[0]: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'a method with a separator character ("GET,POST")',
      { ROUTES: [{ ...ROUTE, path: '/api', methods: ['GET,POST'] }] },
      `ROUTES[0].methods[0]: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'an empty method',
      { ROUTES: [{ ...ROUTE, path: '/api', methods: [''] }] },
      `ROUTES[0].methods[0]: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'a method rule keyed by a non-token',
      { ROUTES: [{ ...ROUTE, path: '/api', method_rules: { 'PROP FIND': { roles: ['admin'] } } }] },
      `ROUTES[0].method_rules.PROP FIND: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'a method rule keyed by a lowercase method',
      { ROUTES: [{ ...ROUTE, path: '/api', method_rules: { delete: { roles: ['admin'] } } }] },
      `ROUTES[0].method_rules.delete: ${METHOD_TOKEN_MESSAGE}`,
    ],
    [
      'a method rule for a method the route refuses (PROPFIND is not in the default set)',
      { ROUTES: [{ ...ROUTE, path: '/api', method_rules: { PROPFIND: { roles: ['admin'] } } }] },
      'ROUTES[0].method_rules.PROPFIND: the route does not allow PROPFIND (add it to methods)',
    ],
    [
      'a host with the https default port, which the runtime drops from the URL',
      { ROUTES: [{ ...ROUTE, path: '/api', host: 'api.test:443' }] },
      'ROUTES[0].host: must not name port 80 or 443 (a host without a port covers every port)',
    ],
    [
      'a host with a port above 65535',
      { ROUTES: [{ ...ROUTE, path: '/api', host: 'api.test:70000' }] },
      'ROUTES[0].host: has a port above 65535',
    ],
    [
      'a duplicate route',
      {
        ROUTES: [
          { ...ROUTE, path: '/api' },
          { ...ROUTE, path: '/api', access: 'public' },
        ],
      },
      'ROUTES[1].path: duplicates ROUTES[0] ("/api")',
    ],
    [
      'a duplicate route that differs only in case',
      {
        ROUTES: [
          { ...ROUTE, path: '/api/admin', roles: ['admin'] },
          { ...ROUTE, path: '/API/Admin' },
        ],
      },
      'ROUTES[1].path: duplicates ROUTES[0] ("/api/admin")',
    ],
    [
      'a public route that requires roles',
      { ROUTES: [{ ...ROUTE, path: '/api', access: 'public', roles: ['admin'] }] },
      'ROUTES[0]: a public route cannot require roles or scopes',
    ],
    [
      'a delegated value other than allow or deny (a typo that must not leave apps in)',
      { ROUTES: [{ ...ROUTE, path: '/api', delegated: 'refuse' }] },
      'ROUTES[0].delegated: Invalid option: expected one of "allow"|"deny"',
    ],
    [
      'an identity mode other than headers or assertion',
      { ROUTES: [{ ...ROUTE, path: '/api', identity: 'claims' }] },
      'ROUTES[0].identity: Invalid option: expected one of "headers"|"assertion"',
    ],
    [
      'delegated = "deny" on a public route, which reads no credential and so keeps no app out',
      { ROUTES: [{ ...ROUTE, path: '/api', access: 'public', delegated: 'deny' }] },
      'ROUTES[0].delegated: a public route reads no credential, so "deny" would keep no app out (drop it, or make the route authenticated)',
    ],
    [
      'delegated = "deny" on a public route whose method rules are all public too',
      {
        ROUTES: [
          {
            ...ROUTE,
            path: '/api',
            access: 'public',
            delegated: 'deny',
            method_rules: { GET: { roles: [] } },
          },
        ],
      },
      'ROUTES[0].delegated: a public route reads no credential, so "deny" would keep no app out (drop it, or make the route authenticated)',
    ],
    [
      'a route that accepts external_jwt without naming issuers',
      { ROUTES: [{ ...ROUTE, path: '/api', credentials: ['external_jwt'] }] },
      'ROUTES[0].issuers: a route that accepts external_jwt must name its issuers',
    ],
    [
      'a route that names an issuer that is not configured',
      { ROUTES: [{ ...ROUTE, path: '/api', credentials: ['external_jwt'], issuers: ['okta'] }] },
      'ROUTES[0].issuers: "okta" is not in SETTINGS.external_issuers',
    ],
    [
      'a timeout below the minimum',
      { ROUTES: [{ ...ROUTE, path: '/api', timeout_ms: 50 }] },
      'ROUTES[0].timeout_ms: Too small: expected number to be >=100',
    ],
    [
      'a timeout above the maximum',
      { ROUTES: [{ ...ROUTE, path: '/api', timeout_ms: 400_000 }] },
      'ROUTES[0].timeout_ms: Too big: expected number to be <=300000',
    ],
    [
      'a route table that is not a list',
      { ROUTES: { path: '/api', upstream: 'UPSTREAM_URL' } },
      'ROUTES: Invalid input: expected array, received object',
    ],
  ])('%s', (_name, overrides, message) => {
    expect(problemsOf(overrides)).toEqual([message])
  })
})

describe('invalid ISSUER and SETTINGS are reported with the field and the reason', () => {
  const settings = env.SETTINGS as Record<string, unknown>

  it.each<[string, Partial<Env>, string]>([
    ['a missing ISSUER', { ISSUER: '' }, 'ISSUER: must be set to the origin the gateway is reached at'],
    [
      'an ISSUER that is not an http(s) URL',
      { ISSUER: 'ftp://gateway.test' },
      'ISSUER: must be an http(s) URL',
    ],
    ['an ISSUER that is not a URL at all', { ISSUER: 'gateway' }, 'ISSUER: must be an http(s) URL'],
    [
      'a string where SETTINGS wants a boolean',
      { SETTINGS: { ...settings, registration: 'yes' } },
      'SETTINGS.registration: Invalid input: expected boolean, received string',
    ],
    [
      'a string where SETTINGS.response_request_id wants a boolean',
      { SETTINGS: { ...settings, response_request_id: 'on' } },
      'SETTINGS.response_request_id: Invalid input: expected boolean, received string',
    ],
    [
      'a string where SETTINGS wants a number',
      { SETTINGS: { ...settings, access_token_ttl_seconds: '900' } },
      'SETTINGS.access_token_ttl_seconds: Invalid input: expected number, received string',
    ],
    [
      'an unsupported signing algorithm',
      { SETTINGS: { ...settings, signing_alg: 'HS256' } },
      'SETTINGS.signing_alg: Invalid option: expected one of "ES256"|"EdDSA"',
    ],
    [
      'an external issuer whose jwks_url is not a URL (reported, not thrown while checking its scheme)',
      {
        SETTINGS: {
          ...settings,
          external_issuers: [
            {
              name: 'okta',
              issuer: 'https://okta.example',
              jwks_url: 'okta.example/keys',
              audiences: ['api'],
              algorithms: ['RS256'],
            },
          ],
        },
      },
      'SETTINGS.external_issuers[0].jwks_url: Invalid URL',
    ],
    [
      'an unknown SETTINGS field',
      { SETTINGS: { ...settings, registraton: false } },
      'SETTINGS: Unrecognized key: "registraton"',
    ],
  ])('%s', (_name, overrides, message) => {
    expect(problemsOf(overrides)).toEqual([message])
  })
})

describe('every configuration problem is reported in one pass', () => {
  it('reports two broken routes as two messages', () => {
    const problems = problemsOf({
      ROUTES: [
        { ...ROUTE, path: '/a', timeout_ms: 1 },
        { ...ROUTE, path: '/b', methods: ['fetch'] },
      ],
    })
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^ROUTES\[0\]\.timeout_ms: /)
    expect(problems[1]).toMatch(/^ROUTES\[1\]\.methods\[0\]: /)
  })

  it('reports a schema error in one route together with a semantic error in another', () => {
    expect(
      problemsOf({
        ISSUER: 'ftp://gateway.test',
        ROUTES: [
          { path: '/a', upstream: 'NOPE_URL' },
          { ...ROUTE, path: 'b' },
          { ...ROUTE, path: '/c', access: 'public', scopes: ['read'] },
        ],
      }),
    ).toEqual([
      'ISSUER: must be an http(s) URL',
      'ROUTES[1].path: must start with "/"',
      'ROUTES[0].upstream: var NOPE_URL is not set to an origin like "https://api.internal"',
      'ROUTES[2]: a public route cannot require roles or scopes',
    ])
  })

  it('reports a route problem even when SETTINGS is broken too', () => {
    const problems = problemsOf({
      SETTINGS: { registration: 'yes' },
      ROUTES: [{ ...ROUTE, path: '/api', credentials: ['external_jwt'] }],
    })
    expect(problems).toEqual([
      'SETTINGS.registration: Invalid input: expected boolean, received string',
      'ROUTES[0].issuers: a route that accepts external_jwt must name its issuers',
    ])
  })
})

describe('a misconfigured gateway fails closed', () => {
  const broken: Partial<Env> = { ROUTES: [{ path: '/api/public', upstream: 'NOPE_URL', access: 'public' }] }

  it.each(['/healthz', '/api/public/x', '/api/admin/x', '/.well-known/jwks.json', '/nowhere'])(
    'answers 503 gateway_misconfigured to %s and forwards nothing',
    async (path) => {
      const id = testId()
      const response = await fetchWithEnv(broken, path, { headers: { 'x-test-id': id } })
      expect(response.status).toBe(503)
      const body = (await response.json()) as { error: string; error_description: string; request_id: string }
      expect(body.error).toBe('gateway_misconfigured')
      expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/)
      expect(response.headers.get('x-request-id')).toBe(body.request_id)
      // The reason goes to the log, not to the client.
      expect(body.error_description).not.toContain('NOPE_URL')
      expect(await upstreamReceived(id)).toEqual([])
    },
  )
})

describe('routes match whole path segments', () => {
  const shipped = () => configOf({})

  it.each([
    ['/api/administrator', '/api'],
    ['/api/admins/x', '/api'],
    ['/api/publicity', '/api'],
    ['/api/public-keys', '/api'],
    ['/api/admin', '/api/admin'],
    ['/api/admin/', '/api/admin'],
    ['/api/admin/users/1', '/api/admin'],
    ['/api/public', '/api/public'],
    ['/api/public/', '/api/public'],
    ['/api', '/api'],
    ['/api/', '/api'],
  ])('%s falls under %s in the shipped table', (path, route) => {
    expect(matched(shipped(), path)).toBe(route)
  })

  it('/api/publicity is not public: 401 and the upstream receives nothing', async () => {
    const result = await probe((init) => gatewayFetch('/api/publicity', init))
    expect(result).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it('/api/administrator is not under /api/admin, and /api/admin/ is', async () => {
    const routes = [
      { ...ROUTE, path: '/api', access: 'public' },
      { ...ROUTE, path: '/api/admin', roles: ['admin'] },
    ]
    const outside = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/administrator', init))
    expect(outside).toMatchObject({ status: 200, forwarded: ['/api/administrator'] })
    const inside = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/admin/', init))
    expect(inside).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it.each(['/API/ADMIN/x', '/Api/Admin', '/api/%61dmin/x', '/api/ADMIN/'])(
    '%s hits the admin rule: 401 without credentials and nothing forwarded',
    async (path) => {
      const id = testId()
      const response = await gatewayFetch(path, { headers: { 'x-test-id': id } })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="/)
      expect(await upstreamReceived(id)).toEqual([])
    },
  )
})

describe('requests no route covers', () => {
  it.each(['/other/x', '/', '/apix', '/auth-api/x', '/.env'])(
    '%s is 404 not_found and never forwarded',
    async (path) => {
      const result = await probe((init) => gatewayFetch(path, init))
      expect(result).toEqual({ status: 404, error: 'not_found', forwarded: [] })
    },
  )
})

describe('methods are decided by the longest matching prefix only', () => {
  const routes = [
    { ...ROUTE, path: '/api', access: 'public' },
    { ...ROUTE, path: '/api/ro', access: 'public', methods: ['GET'] },
  ]

  it('a POST to a GET-only prefix is 405, not a fall-back to the shorter prefix that allows POST', async () => {
    const result = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/ro/x', init), {
      method: 'POST',
      body: 'x',
    })
    expect(result).toEqual({ status: 405, error: 'method_not_allowed', forwarded: [] })
  })

  it('a DELETE to a GET-only prefix is 405 and never forwarded', async () => {
    const result = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/ro', init), {
      method: 'DELETE',
    })
    expect(result).toEqual({ status: 405, error: 'method_not_allowed', forwarded: [] })
  })

  it('GET and HEAD on the GET-only prefix are forwarded, and POST elsewhere under /api is too', async () => {
    const get = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/ro/x', init))
    expect(get).toMatchObject({ status: 200, forwarded: ['/api/ro/x'] })
    const head = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/ro/x', init), {
      method: 'HEAD',
    })
    expect(head).toMatchObject({ status: 200, forwarded: ['/api/ro/x'] })
    const post = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/api/rw', init), {
      method: 'POST',
      body: 'x',
    })
    expect(post).toMatchObject({ status: 200, forwarded: ['/api/rw'] })
  })
})

describe('host-specific routes', () => {
  const routes = [
    { ...ROUTE, path: '/api', roles: ['admin'] },
    { ...ROUTE, path: '/api', host: 'public.test', access: 'public' },
  ]

  it('apply to their host only', async () => {
    const onHost = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: routes }, 'http://public.test/api/x', init),
    )
    expect(onHost).toMatchObject({ status: 200, forwarded: ['/api/x'] })
    const elsewhere = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: routes }, 'http://gateway.test/api/x', init),
    )
    expect(elsewhere).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it('match the host case-insensitively (PUBLIC.TEST)', async () => {
    const result = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: routes }, 'http://PUBLIC.TEST/api/x', init),
    )
    expect(result).toMatchObject({ status: 200, forwarded: ['/api/x'] })
  })

  it('a port-qualified host route does not cover the same host on another port', async () => {
    const ported = [
      { ...ROUTE, path: '/api', roles: ['admin'] },
      { ...ROUTE, path: '/api', host: 'public.test:8443', access: 'public' },
    ]
    const result = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: ported }, 'http://public.test/api/x', init),
    )
    expect(result).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it('a stricter host route cannot be skipped by spelling the host with a trailing dot (admin.test.)', async () => {
    const strict = [
      { ...ROUTE, path: '/', access: 'public' },
      { ...ROUTE, path: '/', host: 'admin.test', roles: ['admin'] },
    ]
    for (const url of ['http://admin.test/x', 'http://admin.test./x']) {
      const result = await probe((init) => fetchUrlWithEnv({ ROUTES: strict }, url, init))
      expect(result).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
    }
  })

  it('the same path on two hosts is not a duplicate', () => {
    expect(problemsOf({ ROUTES: routes })).toEqual([])
  })
})

describe('host matching and ports: a host without port covers every port, host:port only that port', () => {
  // A stricter host-specific route over a permissive host-less one: reaching the host-less one for
  // the protected host is the bypass.
  const strict = [
    { ...ROUTE, path: '/', access: 'public' },
    { ...ROUTE, path: '/', host: 'admin.test', roles: ['admin'] },
  ]

  it.each([
    'http://admin.test:8443/x',
    'http://admin.test:8080/x',
    'https://admin.test:444/x',
    'http://admin.test.:8443/x',
    'http://ADMIN.TEST:8443/x',
    'http://admin.test:443/x',
  ])('the strict admin.test route is not skipped by naming a port (%s)', async (url) => {
    const result = await probe((init) => fetchUrlWithEnv({ ROUTES: strict }, url, init))
    expect(result).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it('another host on a port still gets the host-less route', async () => {
    const result = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: strict }, 'http://other.test:8443/x', init),
    )
    expect(result).toMatchObject({ status: 200, forwarded: ['/x'] })
  })

  const ported = [
    { ...ROUTE, path: '/', roles: ['admin'] },
    { ...ROUTE, path: '/', host: 'public.test', roles: ['editor'] },
    { ...ROUTE, path: '/', host: 'public.test:8443', access: 'public' },
  ]

  it('a host:port route takes requests that name that port', async () => {
    const result = await probe((init) =>
      fetchUrlWithEnv({ ROUTES: ported }, 'http://public.test:8443/x', init),
    )
    expect(result).toMatchObject({ status: 200, forwarded: ['/x'] })
  })

  it.each(['http://public.test/x', 'http://public.test:9443/x', 'https://public.test/x'])(
    'a host:port route does not take %s, which the bare host route decides',
    (url) => {
      const { host, pathname } = new URL(url)
      const route = configOf({ ROUTES: ported }).routeTable.match('GET', host, canonicalizePath(pathname))
      expect(route.host).toBe('public.test')
    },
  )

  it('a host:port route falls back to the bare host route for a path it does not cover', () => {
    const config = configOf({
      ROUTES: [
        { ...ROUTE, path: '/api', host: 'public.test', roles: ['admin'] },
        { ...ROUTE, path: '/docs', host: 'public.test:8443', access: 'public' },
      ],
    })
    expect(config.routeTable.match('GET', 'public.test:8443', canonicalizePath('/api/x')).host).toBe(
      'public.test',
    )
    expect(config.routeTable.match('GET', 'public.test:8443', canonicalizePath('/docs')).host).toBe(
      'public.test:8443',
    )
  })
})

describe('method tokens in the route table', () => {
  it('accepts WebDAV and extension methods in methods and method_rules', () => {
    expect(
      problemsOf({
        ROUTES: [
          {
            ...ROUTE,
            path: '/dav',
            methods: ['GET', 'PROPFIND', 'MOVE', 'X-SYNC'],
            method_rules: {
              MOVE: { roles: ['editor'] },
              'X-SYNC': { roles: ['admin'] },
              HEAD: { access: 'public' },
            },
          },
        ],
      }),
    ).toEqual([])
  })

  it('a route for the default methods and one for PROPFIND on the same prefix are not duplicates', () => {
    const routes = [
      { ...ROUTE, path: '/dav', access: 'public' },
      { ...ROUTE, path: '/dav', roles: ['admin'], methods: ['PROPFIND'] },
    ]
    expect(problemsOf({ ROUTES: routes })).toEqual([])
    const config = configOf({ ROUTES: routes })
    expect(config.routeTable.match('PROPFIND', 'gateway.test', canonicalizePath('/dav/x')).roles).toEqual([
      'admin',
    ])
    expect(config.routeTable.match('GET', 'gateway.test', canonicalizePath('/dav/x')).access).toBe('public')
  })

  it('a route listing PROPFIND next to one without methods that lists GET is a duplicate on GET', () => {
    const routes = [
      { ...ROUTE, path: '/dav', access: 'public' },
      { ...ROUTE, path: '/dav', roles: ['admin'], methods: ['PROPFIND', 'GET'] },
    ]
    expect(problemsOf({ ROUTES: routes })).toEqual(['ROUTES[1].path: duplicates ROUTES[0] ("/dav")'])
  })
})

describe('strip_prefix', () => {
  const routes = [{ ...ROUTE, path: '/svc', access: 'public', strip_prefix: true }]

  it.each([
    ['/svc/Items/%c3%a9?q=%2F', '/Items/%C3%A9?q=%2F'],
    ['/SVC/x', '/x'],
    ['/svc/%61/b/', '/a/b/'],
    ['/svc', '/'],
    ['/svc/', '/'],
  ])('forwards %s as the remaining canonical path %s', async (path, forwarded) => {
    const result = await probe((init) => fetchWithEnv({ ROUTES: routes }, path, init))
    expect(result).toMatchObject({ status: 200, forwarded: [forwarded] })
  })

  it('does not strip from /svcx, which the prefix does not cover', async () => {
    const result = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/svcx/a', init))
    expect(result).toEqual({ status: 404, error: 'not_found', forwarded: [] })
  })
})

describe('a 1,000-route table', () => {
  // 990 leaf routes under 10 parent prefixes that require admin: lookups must find the leaf, and
  // unknown leaves must fall back to their parent, never to a sibling.
  const routes = [
    ...Array.from({ length: 10 }, (_, group) => ({ ...ROUTE, path: `/t${group}`, roles: ['admin'] })),
    ...Array.from({ length: 990 }, (_, index) => ({
      ...ROUTE,
      path: `/t${index % 10}/r${index}`,
      access: index % 2 === 0 ? 'public' : 'authenticated',
    })),
  ]

  it('builds and matches every route to itself', () => {
    const config = configOf({ ROUTES: routes })
    expect(config.routes).toHaveLength(1000)
    for (const route of routes) expect(matched(config, `${route.path}/deeper/path`)).toBe(route.path)
    expect(matched(config, '/t3/r99999')).toBe('/t3')
    expect(matched(config, '/t3/R13')).toBe('/t3/r13')
    expect(matched(config, '/t10/r0')).toBe('not_found')
  })

  it('forwards a public leaf and guards an authenticated one through the gateway', async () => {
    const open = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/t8/r988/deep', init))
    expect(open).toMatchObject({ status: 200, forwarded: ['/t8/r988/deep'] })
    const guarded = await probe((init) => fetchWithEnv({ ROUTES: routes }, '/t9/r989/deep', init))
    expect(guarded).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })
})
