import { describe, expect, it } from 'vitest'
import { gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { authorizedPath } from './gateway'

describe('public routes', () => {
  it('forwards a public request with X-Auth-Method none and no identity headers', async () => {
    const id = testId()
    const response = await gatewayFetch('/api/public/hello?x=1&y=%20', { headers: { 'x-test-id': id } })
    expect(response.status).toBe(200)
    // The upstream's response as it is: SETTINGS.response_request_id is off by default.
    expect(response.headers.get('x-request-id')).toBeNull()
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(received?.url).toBe('/api/public/hello?x=1&y=%20')
    expect(received?.headers['x-auth-method']).toBe('none')
    expect(received?.headers['x-auth-user']).toBeUndefined()
  })
})

describe('authorizedPath', () => {
  const literal = { prefixKeys: ['api', 'v1'], spellings: ['Api', 'V1'] }
  const template = { prefixKeys: ['users', '{}'], spellings: ['Users', undefined] }

  it.each([
    ['/Api/V1', '/Api/V1'],
    ['/Api/V1/Items/x', '/Api/V1/Items/x'],
    ['/api/v1/Items/x', '/Api/V1/Items/x'],
    ['/API/V1', '/Api/V1'],
    ['/Api/v1/x', '/Api/V1/x'],
  ])('respells a literal prefix: %s -> %s', (path, expected) => {
    expect(authorizedPath(literal, path)).toBe(expected)
  })

  it('respells only the literal segments of a template and keeps parameters byte for byte', () => {
    expect(authorizedPath(template, '/USERS/Bob/x')).toBe('/Users/Bob/x')
    expect(authorizedPath(template, '/Users/Bob')).toBe('/Users/Bob')
  })
})

describe('the authorized path is what is forwarded', () => {
  it('respells a case-variant public prefix so a case-sensitive upstream sees the public path', async () => {
    const id = testId()
    const response = await gatewayFetch('/API/Public/orders?q=1', { headers: { 'x-test-id': id } })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.url).toBe('/api/public/orders?q=1')
  })

  it('keeps the case of the segments after the prefix', async () => {
    const id = testId()
    await gatewayFetch('/api/public/Users/AbC', { headers: { 'x-test-id': id } })
    const [received] = await upstreamReceived(id)
    expect(received?.path).toBe('/api/public/Users/AbC')
  })
})

describe('upstream responses', () => {
  it('cannot set the gateway session cookie (Set-Cookie for gateway cookie names is dropped)', async () => {
    const routes = [{ path: '/r', upstream: 'UPSTREAM_URL', access: 'public' }]
    const { fetchWithEnv } = await import('../../test/support/gateway')
    // The echo upstream cannot set cookies, so check the filter on a redirect it can produce.
    const response = await fetchWithEnv({ ROUTES: routes }, '/r/x?__redirect=/elsewhere')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/elsewhere')
  })
})
