/**
 * The OpenAPI document against the app itself: every /auth and /admin route the Worker mounts is
 * documented, and nothing is documented that it does not serve. (The e2e walk in
 * test/e2e/admin-http.test.ts then calls each documented operation; this closes the other side,
 * an endpoint added to a room's routes without a describeOperation.)
 */
import { describe, expect, it } from 'vitest'
import { createApp } from '../app'
import { openApiDocument } from './routes'

const GATEWAY_API = /^\/(auth|admin)(\/|$)/

function served(): string[] {
  const operations = createApp()
    .routes.filter((route) => route.method !== 'ALL' && GATEWAY_API.test(route.path))
    .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`)
  return [...new Set(operations)].sort()
}

function documented(): string[] {
  return Object.entries(openApiDocument().paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort()
}

describe('the OpenAPI document covers the app', () => {
  it('documents exactly the /auth and /admin routes the app serves (an undocumented endpoint fails)', () => {
    expect(documented()).toEqual(served())
  })
})
