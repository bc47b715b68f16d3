/**
 * The gateway's own segments (/admin, /auth, /.well-known, /healthz) belong to it in every spelling
 * route matching reads as theirs: no configured route may lie there, and no request there reaches a
 * route, not even a catch-all `/` or a `/{tenant}/...` template, through either door of the entry.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load'
import type { Env } from '../src/env'
import worker from '../src/index'
import { fetchWithEnv, GATEWAY, testId, upstreamReceived } from './support/gateway'

const ROUTE = { upstream: 'UPSTREAM_URL' }

function problemsOf(routes: unknown[]): string[] {
  const result = parseConfig({ ...env, ROUTES: routes } as Env)
  return result.ok ? [] : result.problems
}

describe("config refuses a route under the gateway's own segments", () => {
  it.each([
    ['/admin', 'admin'],
    ['/admin/users', 'admin'],
    ['/ADMIN/users', 'admin'],
    ['/Auth', 'auth'],
    ['/auth/{rest*}', 'auth'],
    ['/.well-known/security.txt', '.well-known'],
    ['/.WELL-KNOWN', '.well-known'],
    ['/healthz', 'healthz'],
    ['/HealthZ/deep', 'healthz'],
    // Fullwidth Ａ and dotless ı: the route-table key or another case folding reads "admin".
    ['/%EF%BC%A1dmin', 'admin'],
    ['/adm%C4%B1n/x', 'admin'],
  ])('%s is an error naming the route and /%s', (path, segment) => {
    expect(
      problemsOf([
        { ...ROUTE, path: '/api' },
        { ...ROUTE, path, access: 'public' },
      ]),
    ).toEqual([
      `ROUTES[1].path: "${path}" lies under /${segment}, which the gateway serves itself (/admin, /auth, /.well-known, /healthz are reserved, in any letter case); put the route under another prefix, such as /api${path}`,
    ])
  })

  it.each(['/', '/api/admin', '/administrator', '/authz', '/healthz-api', '/well-known', '/{tenant}/users'])(
    '%s is accepted (whole segments, first segment only)',
    (path) => {
      expect(problemsOf([{ ...ROUTE, path, access: 'public' }])).toEqual([])
    },
  )
})

/** Through the Worker entry (its choice of door), with another route table. */
async function entryFetch(overrides: Partial<Env>, path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext()
  const request = new Request(`${GATEWAY}${path}`, init) as Parameters<NonNullable<typeof worker.fetch>>[0]
  const response = await worker.fetch?.(request, { ...env, ...overrides } as Env, ctx)
  await waitOnExecutionContext(ctx)
  if (!response) throw new Error('the entry has no fetch handler')
  return response
}

// The attack's best case: a table that forwards everything, publicly.
const catchAll: Partial<Env> = {
  ROUTES: [
    { ...ROUTE, path: '/', access: 'public' },
    { ...ROUTE, path: '/{tenant}/users', access: 'public' },
  ],
}

async function probe(
  send: (overrides: Partial<Env>, path: string, init: RequestInit) => Promise<Response>,
  path: string,
  method = 'GET',
): Promise<{ status: number; error?: string; forwarded: string[] }> {
  const id = testId()
  const response = await send(catchAll, path, { method, headers: { 'x-test-id': id } })
  const text = await response.text()
  const error = response.headers.get('content-type')?.includes('json')
    ? (JSON.parse(text) as { error?: string }).error
    : undefined
  const forwarded = (await upstreamReceived(id)).map((received) => received.url)
  return { status: response.status, ...(error ? { error } : {}), forwarded }
}

// ASCII case spellings: the entry sends them to the app (as it sends `/admin`), whose endpoints
// answer only the lowercase spelling and whose fall-through to the proxy must not take them.
const CASE_SPELLINGS = [
  ['upper case', '/ADMIN/users'],
  ['mixed case, bare segment', '/Admin'],
  ['upper case token endpoint', '/AUTH/token'],
  ['mixed case', '/Auth/me'],
  ['upper case well-known', '/.WELL-KNOWN/jwks.json'],
  ['mixed case well-known', '/.Well-Known/openid-configuration'],
  ['upper case health', '/HEALTHZ'],
]
// Spellings only the canonical path reveals: the entry proxies them directly, and the route table
// must refuse them there.
const ENCODED_SPELLINGS = [
  ['percent-encoded letter', '/%61dmin/users'],
  ['percent-encoded upper case', '/%41UTH/me'],
  ['percent-encoded dot', '/%2Ewell-known/jwks.json'],
  ['fullwidth letters (NFKC)', '/%EF%BC%A1%EF%BC%A4%EF%BC%AD%EF%BC%A9%EF%BC%AE/users'],
]
// Lowercase paths the endpoints do not serve: the app's fall-through reaches the proxy with them.
const UNSERVED = [
  ['an unknown auth path', '/auth/nope/x'],
  ['below the health check', '/healthz/x'],
  ['an unknown well-known document', '/.well-known/security.txt'],
]

describe("requests under the gateway's own segments never reach a route, through the Worker entry", () => {
  it.each([...CASE_SPELLINGS, ...ENCODED_SPELLINGS, ...UNSERVED])(
    '%s (%s) is 404 not_found and never forwarded',
    async (_name, path) => {
      expect(await probe(entryFetch, path)).toEqual({ status: 404, error: 'not_found', forwarded: [] })
    },
  )

  it('POST /AUTH/token is neither served by the token endpoint nor forwarded', async () => {
    expect(await probe(entryFetch, '/AUTH/token', 'POST')).toEqual({
      status: 404,
      error: 'not_found',
      forwarded: [],
    })
  })

  it('an unknown admin path asks for the admin credentials first, and is never forwarded', async () => {
    expect(await probe(entryFetch, '/admin/nope')).toEqual({
      status: 401,
      error: 'invalid_token',
      forwarded: [],
    })
  })

  it.each([
    ['dotless ı, "admin" to Java and .NET', '/adm%C4%B1n/users'],
    ['dotted İ, "admin" to Java equalsIgnoreCase', '/adm%C4%B0n/users'],
  ])(
    'a case-fold variant of /admin (%s: %s) is 400 invalid_path and never forwarded',
    async (_name, path) => {
      expect(await probe(entryFetch, path)).toEqual({ status: 400, error: 'invalid_path', forwarded: [] })
    },
  )

  it.each(['/other/x', '/administrator', '/authz/x', '/tenant/users', '/api/admin'])(
    'the catch-all still forwards %s, which is outside every reserved segment',
    async (path) => {
      expect(await probe(entryFetch, path)).toEqual({ status: 200, forwarded: [path] })
    },
  )

  it('the endpoints themselves still answer their lowercase spelling', async () => {
    expect((await entryFetch(catchAll, '/healthz', {})).status).toBe(200)
    const jwks = await entryFetch(catchAll, '/.well-known/jwks.json', {})
    expect(jwks.status).toBe(200)
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0)
  })
})

describe("the app's fall-through to the proxy refuses the gateway's own segments too", () => {
  it.each([...CASE_SPELLINGS, ...UNSERVED])(
    '%s (%s) is 404 not_found and never forwarded',
    async (_name, path) => {
      expect(await probe(fetchWithEnv, path)).toEqual({ status: 404, error: 'not_found', forwarded: [] })
    },
  )
})
