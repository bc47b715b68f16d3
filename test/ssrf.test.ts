import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/app'
import { type Received, testId, UPSTREAM, upstreamReceived } from './support/gateway'

const UPSTREAM_HOST = new URL(UPSTREAM).host

/** A raw URL string (no path helper that might normalize it first), tagged for the echo upstream. */
function tagged(url: string, init: RequestInit = {}): { request: Request; id: string } {
  const id = testId()
  const headers = new Headers(init.headers)
  headers.set('x-test-id', id)
  return { request: new Request(url, { ...init, headers }), id }
}

async function expectRefusedUnforwarded(url: string, init: RequestInit = {}): Promise<void> {
  const { request, id } = tagged(url, init)
  const response = await SELF.fetch(request)
  expect(response.status).toBeGreaterThanOrEqual(400)
  expect(response.status).toBeLessThan(500)
  expect((await response.json()) as { error: string }).toMatchObject({ error: expect.any(String) })
  expect(await upstreamReceived(id)).toEqual([])
}

async function expectForwardedToUpstream(response: Response, id: string, path: string): Promise<Received> {
  expect(response.status).toBe(200)
  await response.arrayBuffer()
  const received = await upstreamReceived(id)
  expect(received).toHaveLength(1)
  const [first] = received
  if (!first) throw new Error('the upstream received nothing')
  expect(first.url).toBe(path)
  // The configured upstream origin, not a host taken from the request.
  expect(first.headers.host).toBe(UPSTREAM_HOST)
  return first
}

describe('an absolute URL smuggled into the path never picks the destination', () => {
  it('GET /http://169.254.169.254/x is refused and nothing is forwarded', async () => {
    await expectRefusedUnforwarded('http://gateway.test/http://169.254.169.254/x')
  })

  it('GET /api/public/http://169.254.169.254/latest/meta-data is refused and nothing is forwarded', async () => {
    await expectRefusedUnforwarded('http://gateway.test/api/public/http://169.254.169.254/latest/meta-data')
  })

  it('GET /api/public/http:%2F%2F169.254.169.254 (encoded slashes) is refused and nothing is forwarded', async () => {
    await expectRefusedUnforwarded('http://gateway.test/api/public/http:%2F%2F169.254.169.254')
  })
})

describe('a scheme-relative path never picks the destination', () => {
  it('GET //evil.example/x is refused and nothing is forwarded', async () => {
    await expectRefusedUnforwarded('http://gateway.test//evil.example/x')
  })

  it('GET /\\\\evil.example/x (backslashes that URL parsers read as "//") is refused', async () => {
    await expectRefusedUnforwarded('http://gateway.test/\\\\evil.example/x')
  })

  it('GET /api/public//evil.example is refused and nothing is forwarded', async () => {
    await expectRefusedUnforwarded('http://gateway.test/api/public//evil.example')
  })
})

describe('authority tricks in the path stay path segments', () => {
  it('GET /api/public/@evil.example/x reaches the configured upstream with that exact path', async () => {
    const { request, id } = tagged('http://gateway.test/api/public/@evil.example/x')
    await expectForwardedToUpstream(await SELF.fetch(request), id, '/api/public/@evil.example/x')
  })

  it('a URL in the query string is forwarded as data to the configured upstream', async () => {
    const { request, id } = tagged('http://gateway.test/api/public/fetch?url=http://169.254.169.254/x')
    await expectForwardedToUpstream(
      await SELF.fetch(request),
      id,
      '/api/public/fetch?url=http://169.254.169.254/x',
    )
  })
})

describe('the Host header never picks the destination', () => {
  it('Host: evil.example is forwarded to the configured upstream, not to evil.example', async () => {
    const { request, id } = tagged('http://gateway.test/api/public/host', {
      headers: { Host: 'evil.example' },
    })
    const received = await expectForwardedToUpstream(await SELF.fetch(request), id, '/api/public/host')
    expect(JSON.stringify(received.headers)).not.toContain('evil.example')
  })

  it('a request that reached the gateway as 169.254.169.254 is forwarded to the configured upstream', async () => {
    // The Worker answers under any name a route sends to it; the URL's host is the client's Host.
    const { request, id } = tagged('http://169.254.169.254/api/public/metadata')
    const ctx = createExecutionContext()
    const response = await createApp().fetch(request, env, ctx)
    await waitOnExecutionContext(ctx)
    const received = await expectForwardedToUpstream(response, id, '/api/public/metadata')
    expect(received.headers['x-forwarded-host']).toBe('169.254.169.254')
  })
})

describe('upstream redirects are the client’s to follow, never the gateway’s', () => {
  it('a 302 to the metadata service comes back to the client unfollowed', async () => {
    const { request, id } = tagged(
      'http://gateway.test/api/public/r?__redirect=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data',
      // The test client must not follow it either: SELF would send the follow-up to the Worker.
      { redirect: 'manual' },
    )
    const response = await SELF.fetch(request)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('http://169.254.169.254/latest/meta-data')
    expect(await upstreamReceived(id)).toHaveLength(1)
  })
})
