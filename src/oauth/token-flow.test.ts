import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login } from '../../test/support/accounts'
import { gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'

describe('a password-grant token on the default routes', () => {
  it('is an ES256 at+jwt with the contract claims and reaches /api with identity headers', async () => {
    const user = await createUser('flow-alice', ['editor'])
    const tokens = await login('flow-alice')
    expect(tokens.token_type).toBe('Bearer')
    expect(tokens.expires_in).toBe(900)
    expect(tokens.refresh_token).toMatch(/^rt_/)
    const header = decodeProtectedHeader(tokens.access_token)
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: 'test-key-1' })
    const claims = decodeJwt(tokens.access_token)
    expect(claims).toMatchObject({
      iss: 'http://gateway.test',
      aud: 'edge-auth-gateway',
      sub: user.id,
      roles: ['editor'],
    })
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900)
    expect(claims.scope).toBe('read write')

    const id = testId()
    const response = await gatewayFetch('/api/things', {
      headers: { ...bearer(tokens.access_token), 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-auth-user-id']).toBe(user.id)
    expect(received?.headers['x-auth-user']).toBe('flow-alice')
    expect(received?.headers['x-auth-roles']).toBe('editor')
    expect(received?.headers['x-auth-scopes']).toBe('read write')
    expect(received?.headers['x-auth-method']).toBe('jwt')
    expect(received?.headers.authorization).toBeUndefined()
    expect(typeof received?.headers['x-auth-assertion']).toBe('string')
  })

  it('is refused on /api/admin for an editor (403) and accepted for an admin', async () => {
    await createUser('flow-bob', ['editor'])
    await createUser('flow-root', ['admin'])
    const editor = await login('flow-bob')
    const admin = await login('flow-root')
    const denied = await gatewayFetch('/api/admin/x', { headers: bearer(editor.access_token) })
    expect(denied.status).toBe(403)
    expect(await denied.json()).toMatchObject({ error: 'forbidden' })
    const allowed = await gatewayFetch('/api/admin/x', { headers: bearer(admin.access_token) })
    expect(allowed.status).toBe(200)
  })

  it('answers 401 with a Bearer challenge on /api without a token', async () => {
    const response = await gatewayFetch('/api/things')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="edge-auth-gateway"')
  })
})
