import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load'
import type { Env } from '../src/env'
import { fetchWithEnv, testId, upstreamReceived } from './support/gateway'

const ROUTE = { upstream: 'UPSTREAM_URL' }

function problemsOf(routes: unknown[]): string[] {
  const result = parseConfig({ ...env, ROUTES: routes } as Env)
  return result.ok ? [] : result.problems
}

describe('templated route paths are validated with the field and the reason', () => {
  it.each<[string, string, string]>([
    [
      'a parameter mixed with a literal in one segment',
      '/files/{name}.json',
      'a parameter must fill a whole segment',
    ],
    ['an unclosed brace', '/items/{id', 'a parameter must fill a whole segment'],
    ['a parameter name with a space', '/items/{item id}', 'a parameter must fill a whole segment'],
    ['{rest*} before the last segment', '/files/{rest*}/meta', '"{rest*}" may only be the last segment'],
    ['the same parameter twice', '/a/{id}/b/{id}', 'parameter "{id}" appears twice'],
    ['an encoded brace in a literal', '/a/%7Bid%7D', 'encoded braces are not allowed'],
    ['a trailing slash', '/items/{id}/', 'must be canonical (no trailing slash'],
  ])('refuses %s (%s)', (_name, path, reason) => {
    const problems = problemsOf([{ ...ROUTE, path }])
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('ROUTES[0].path: ')
    expect(problems[0]).toContain(reason)
  })

  it('refuses match = "exact" on a path ending in {rest*}', () => {
    expect(problemsOf([{ ...ROUTE, path: '/files/{rest*}', match: 'exact' }])).toEqual([
      'ROUTES[0].path: match = "exact" contradicts a trailing {rest*}',
    ])
  })

  it.each([
    ['parameter names differ only', '/items/{id}', '/items/{item_id}'],
    ['a plain prefix and the same path with {rest*}', '/files', '/files/{rest*}'],
    ['a template with match = "prefix" and the same with {rest*}', '/a/{x}', '/a/{y}/{rest*}'],
  ])('reports duplicates after normalizing parameter names: %s', (_name, first, second) => {
    const extra = first === '/a/{x}' ? { match: 'prefix' } : {}
    expect(
      problemsOf([
        { ...ROUTE, path: first, ...extra },
        { ...ROUTE, path: second },
      ]),
    ).toEqual([`ROUTES[1].path: duplicates ROUTES[0] ("${first}")`])
  })

  it('accepts an exact and a prefix route on the same template, and a literal beside a parameter', () => {
    expect(
      problemsOf([
        { ...ROUTE, path: '/items/{id}' },
        { ...ROUTE, path: '/items/{id}/{rest*}' },
        { ...ROUTE, path: '/items/mine', match: 'exact' },
        { ...ROUTE, path: '/items/mine' },
      ]),
    ).toEqual([])
  })
})

describe('a templated route forwards what it authorized', () => {
  const ROUTES = [
    { ...ROUTE, path: '/shop/Items/{item_id}/Owner', access: 'public' },
    { ...ROUTE, path: '/shop/Items/{item_id}', access: 'public', methods: ['GET'] },
    { ...ROUTE, path: '/shop/{rest*}', roles: ['admin'] },
  ]

  it('forwards the route spelling of literal segments and the parameter byte for byte', async () => {
    const id = testId()
    const response = await fetchWithEnv({ ROUTES } as Partial<Env>, '/SHOP/items/AbC%C3%A9/owner?x=1', {
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.url).toBe('/shop/Items/AbC%C3%A9/Owner?x=1')
  })

  it('sends a deeper path, which the exact template does not cover, to the admin prefix (401)', async () => {
    const id = testId()
    const response = await fetchWithEnv({ ROUTES } as Partial<Env>, '/shop/items/1/owner/secrets', {
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(401)
    expect(await upstreamReceived(id)).toEqual([])
  })

  it('answers 405 with Allow for a method the template does not take, forwarding nothing', async () => {
    const id = testId()
    const response = await fetchWithEnv({ ROUTES } as Partial<Env>, '/shop/items/1', {
      method: 'DELETE',
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET, HEAD')
    expect(await upstreamReceived(id)).toEqual([])
  })
})

describe('any_of is validated against the route', () => {
  it('refuses an alternative naming a credential the route does not load, and any_of on a public route', () => {
    expect(
      problemsOf([
        { ...ROUTE, path: '/a', credentials: ['jwt'], any_of: [{ credentials: ['api_key'] }] },
        { ...ROUTE, path: '/b', access: 'public', any_of: [{ scopes: ['read'] }] },
        { ...ROUTE, path: '/c', method_rules: { GET: { any_of: [{ credentials: ['basic'] }] } } },
      ]),
    ).toEqual([
      'ROUTES[0].any_of[0].credentials: "api_key" is not in the route\'s credentials',
      'ROUTES[1]: a public route cannot require roles or scopes',
      'ROUTES[2].method_rules.GET.any_of[0].credentials: "basic" is not in the route\'s credentials',
    ])
  })
})

describe('access = "deny" closes an operation', () => {
  it('answers 403 before reading any credential and forwards nothing, even under a public prefix', async () => {
    const routes = [
      { ...ROUTE, path: '/shop', access: 'public' },
      { ...ROUTE, path: '/shop/version', match: 'exact', access: 'deny' },
    ]
    const id = testId()
    const response = await fetchWithEnv({ ROUTES: routes } as Partial<Env>, '/shop/version', {
      headers: { 'x-test-id': id },
    })
    expect(response.status).toBe(403)
    expect(((await response.json()) as { error: string }).error).toBe('forbidden')
    expect(await upstreamReceived(id)).toEqual([])
  })
})
