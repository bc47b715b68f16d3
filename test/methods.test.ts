import { describe, expect, it } from 'vitest'
import type { Env } from '../src/env'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from './support/gateway'

const ROUTE = { upstream: 'UPSTREAM_URL' }

interface Outcome {
  status: number
  error?: string
  allow: string | null
  forwarded: { method: string; url: string }[]
}

/** Sends a tagged request; returns the status, error code, `Allow` and what the upstream received. */
async function probe(send: (init: RequestInit) => Promise<Response>, method: string): Promise<Outcome> {
  const id = testId()
  const response = await send({ method, headers: { 'x-test-id': id } })
  const text = await response.text()
  const error =
    text !== '' && response.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as { error?: string }).error
      : undefined
  const forwarded = (await upstreamReceived(id)).map(({ method, url }) => ({ method, url }))
  return { status: response.status, error, allow: response.headers.get('allow'), forwarded }
}

function withRoutes(routes: unknown[]): (path: string) => (init: RequestInit) => Promise<Response> {
  const overrides: Partial<Env> = { ROUTES: routes }
  return (path) => (init) => fetchWithEnv(overrides, path, init)
}

const DEFAULT_ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'
const WORKERD_METHODS = (
  'PURGE TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH UNLOCK ACL REPORT MKACTIVITY ' +
  'CHECKOUT MERGE MSEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE QUERY BAN'
).split(' ')

describe('methods outside the default set are refused with 405 and Allow, never forwarded', () => {
  // Every method workerd parses besides the default seven. It refuses other tokens itself
  // (`new Request(url, { method: 'BREW' })` throws): custom tokens are covered by the table's tests.
  it.each(WORKERD_METHODS)(
    'a %s to a public route of the shipped table is 405 with the default Allow',
    async (method) => {
      const result = await probe((init) => gatewayFetch('/api/public/files/a', init), method)
      expect(result).toEqual({
        status: 405,
        error: 'method_not_allowed',
        allow: DEFAULT_ALLOW,
        forwarded: [],
      })
    },
  )

  it('a lowercase "propfind" (which workerd uppercases) is 405 too', async () => {
    const result = await probe((init) => gatewayFetch('/api/public/a', init), 'propfind')
    expect(result).toEqual({ status: 405, error: 'method_not_allowed', allow: DEFAULT_ALLOW, forwarded: [] })
  })

  it.each(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
    'a %s to a public route is forwarded as is',
    async (method) => {
      const result = await probe((init) => gatewayFetch('/api/public/a', init), method)
      expect(result).toMatchObject({ status: 200, forwarded: [{ method, url: '/api/public/a' }] })
    },
  )

  it('a 405 on a GET-only route lists GET and HEAD in Allow', async () => {
    const send = withRoutes([{ ...ROUTE, path: '/ro', access: 'public', methods: ['GET'] }])
    const result = await probe(send('/ro/x'), 'DELETE')
    expect(result).toEqual({ status: 405, error: 'method_not_allowed', allow: 'GET, HEAD', forwarded: [] })
  })

  it('Allow lists the methods of every route on the matched prefix', async () => {
    const send = withRoutes([
      { ...ROUTE, path: '/dav', access: 'public', methods: ['GET'] },
      { ...ROUTE, path: '/dav', roles: ['admin'], methods: ['PROPFIND', 'MOVE'] },
    ])
    const result = await probe(send('/dav/x'), 'LOCK')
    expect(result).toEqual({
      status: 405,
      error: 'method_not_allowed',
      allow: 'GET, HEAD, PROPFIND, MOVE',
      forwarded: [],
    })
  })
})

describe('a route that lists a WebDAV or custom method takes it', () => {
  const send = withRoutes([
    { ...ROUTE, path: '/dav', access: 'public', methods: ['GET', 'PROPFIND', 'REPORT'] },
  ])

  it.each(['PROPFIND', 'REPORT', 'GET'])('a %s is forwarded with its method', async (method) => {
    const result = await probe(send('/dav/folder'), method)
    expect(result).toMatchObject({ status: 200, forwarded: [{ method, url: '/dav/folder' }] })
  })

  it('a MOVE it does not list is 405 with its Allow', async () => {
    const result = await probe(send('/dav/folder'), 'MOVE')
    expect(result).toEqual({
      status: 405,
      error: 'method_not_allowed',
      allow: 'GET, HEAD, PROPFIND, REPORT',
      forwarded: [],
    })
  })
})

describe('method_rules can name any listed method', () => {
  // PROPFIND reads, MOVE rewrites: the public base rule must not cover MOVE.
  const send = withRoutes([
    {
      ...ROUTE,
      path: '/dav',
      access: 'public',
      methods: ['GET', 'PROPFIND', 'MOVE'],
      method_rules: { MOVE: { access: 'authenticated', roles: ['editor'] } },
    },
  ])

  it('a PROPFIND under the public base rule is forwarded', async () => {
    const result = await probe(send('/dav/a'), 'PROPFIND')
    expect(result).toMatchObject({ status: 200, forwarded: [{ method: 'PROPFIND', url: '/dav/a' }] })
  })

  it('an anonymous MOVE meets the MOVE rule: 401 and nothing forwarded', async () => {
    const result = await probe(send('/dav/a'), 'MOVE')
    expect(result).toMatchObject({ status: 401, error: 'invalid_token', forwarded: [] })
  })
})
