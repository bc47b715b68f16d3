import { describe, expect, it } from 'vitest'
import type { Env } from '../src/env'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from './support/gateway'

const ROUTE = { upstream: 'UPSTREAM_URL' }

/** Sends a tagged request; returns the status, the error code and the paths the upstream received. */
async function probe(
  send: (init: RequestInit) => Promise<Response>,
): Promise<{ status: number; error?: string; forwarded: string[] }> {
  const id = testId()
  const response = await send({ headers: { 'x-test-id': id } })
  const body = (await response.json()) as { error?: string }
  const forwarded = (await upstreamReceived(id)).map((received) => received.url)
  return { status: response.status, error: body.error, forwarded }
}

// Protected routes under a public one: a spelling that falls through to `/api` is forwarded with 200,
// which is exactly the bypass.
const routes: Partial<Env> = {
  ROUTES: [
    { ...ROUTE, path: '/api', access: 'public' },
    { ...ROUTE, path: '/api/admin', roles: ['admin'] },
    { ...ROUTE, path: '/api/secret', roles: ['admin'] },
    { ...ROUTE, path: '/api/kiosk', roles: ['admin'] },
    { ...ROUTE, path: '/api/office', roles: ['admin'] },
    { ...ROUTE, path: '/api/strasse', roles: ['admin'] },
  ],
}

describe('case and compatibility spellings of a protected segment never reach a weaker route', () => {
  it.each([
    ['U+0130 İ, "admin" to Java equalsIgnoreCase', '/api/adm%C4%B0n/users'],
    ['U+0131 ı, "admin" to Java and .NET OrdinalIgnoreCase', '/api/adm%C4%B1n/users'],
    ['i + U+0307, "admin" once the combining dot is dropped', '/api/admi%CC%87n'],
    ['ß for "ss", the same to Python casefold', '/api/stra%C3%9Fe/x'],
  ])('%s (%s) is 400 invalid_path and never forwarded', async (_name, path) => {
    const result = await probe((init) => fetchWithEnv(routes, path, init))
    expect(result).toEqual({ status: 400, error: 'invalid_path', forwarded: [] })
  })

  it.each([
    ['U+017F ſ', '/api/%C5%BFecret/x'],
    ['U+212A Kelvin sign', '/api/%E2%84%AAiosk'],
    ['U+FB00 ﬀ ligature', '/api/o%EF%AC%80ice'],
    ['upper case', '/api/ADMIN/users'],
  ])('%s (%s) matches the protected route: 401 and never forwarded', async (_name, path) => {
    const result = await probe((init) => fetchWithEnv(routes, path, init))
    expect(result).toEqual({ status: 401, error: 'invalid_token', forwarded: [] })
  })

  it('a Unicode segment that spells no route is still forwarded under /api', async () => {
    const result = await probe((init) => fetchWithEnv(routes, '/api/%C4%B1%C5%9F%C4%B1k', init))
    expect(result).toEqual({ status: 200, forwarded: ['/api/%C4%B1%C5%9F%C4%B1k'] })
  })
})

describe('an escaped escape (%25 + two hex digits) is refused unless the route allows it', () => {
  it.each([
    [
      'a double-encoded dot-dot, /api/admin to an upstream that decodes twice',
      '/api/public/%252e%252e/admin',
    ],
    ['a double-encoded slash', '/api/public/..%252f..%252fadmin'],
    ['%25 followed by encoded hex digits, forwarded as %2541', '/api/public/%25%34%31'],
  ])('%s (%s) on the shipped public route is 400 and never forwarded', async (_name, path) => {
    const result = await probe((init) => gatewayFetch(path, init))
    expect(result).toEqual({ status: 400, error: 'invalid_path', forwarded: [] })
  })

  it('a lone encoded percent sign is forwarded as is', async () => {
    const result = await probe((init) => gatewayFetch('/api/public/100%25', init))
    expect(result).toEqual({ status: 200, forwarded: ['/api/public/100%25'] })
  })

  it('a route with allow_encoded_percent forwards it byte for byte', async () => {
    const allowing: Partial<Env> = {
      ROUTES: [{ ...ROUTE, path: '/files', access: 'public', allow_encoded_percent: true }],
    }
    const result = await probe((init) => fetchWithEnv(allowing, '/files/report%2520final.pdf', init))
    expect(result).toEqual({ status: 200, forwarded: ['/files/report%2520final.pdf'] })
  })
})
