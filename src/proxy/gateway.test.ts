import { describe, expect, it } from 'vitest'
import { gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'

describe('public routes', () => {
  it('forwards a public request with X-Auth-Method none and no identity headers', async () => {
    const id = testId()
    const response = await gatewayFetch('/api/public/hello?x=1&y=%20', { headers: { 'x-test-id': id } })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const [received] = await upstreamReceived(id)
    expect(received?.url).toBe('/api/public/hello?x=1&y=%20')
    expect(received?.headers['x-auth-method']).toBe('none')
    expect(received?.headers['x-auth-user']).toBeUndefined()
  })
})
