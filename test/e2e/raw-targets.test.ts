// Time budget: ~5 s on a 2-core machine (raw sockets to the run's shared gateway,
// support/shared-gateway.ts; ~15 s more if it is the first file to ask). Measured 13 s at load 2
// with a gateway of its own.
import { beforeAll, describe, expect, test } from 'vitest'
import type { EchoServer } from '../../scripts/echo-upstream'
import type { RunningGateway } from './support/gateway'
import { type RawResponse, rawRequest } from './support/raw-http'
import { sharedGateway } from './support/shared-gateway'
import { upstreamReceived } from './support/upstream'

/**
 * Request-targets that try to reach /api/admin (role admin) without credentials, or to steer the
 * gateway somewhere else, written byte for byte onto a TCP socket: fetch() would normalize them
 * before they left the process.
 *
 * `seen` records what wrangler dev 4.86 / its workerd actually did with each target before and
 * inside the Worker (found by running this file; the gateway's error description tells which
 * stage rejected). Some targets never reach the Worker as sent: workerd parses the request-target
 * as a WHATWG URL, which resolves `..`/`.` segments (also spelled `%2e`), turns `\` into `/` and
 * drops a `#fragment`. The assertions are on the outcome: the status, and what the upstream got.
 */
interface RawCase {
  target: string
  host?: string
  seen: string
  status: number
  /** The gateway's error code, or null when workerd itself answered (plain text). */
  error: string | null
  /** For a request the gateway rightly forwards (a public route): the request-target upstream. */
  forwarded?: string
}

const CASES: RawCase[] = [
  {
    target: '/api/public/../admin/x',
    seen: 'workerd resolves ".." → Worker sees /api/admin/x → admin route, no credentials',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/public/%2e%2e/admin/x',
    seen: 'workerd reads %2e%2e as ".." and resolves it → /api/admin/x → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/public/%2E%2E/admin',
    seen: 'same with upper-case hex → /api/admin → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/public/.%2e/admin',
    seen: 'mixed spelling of ".." resolved by workerd → /api/admin → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/public/..%2fadmin',
    seen: 'reaches the Worker unchanged; encoded slash → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/api%2Fadmin/x',
    seen: 'reaches the Worker unchanged; encoded slash → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/api/public\\..\\admin',
    seen: 'workerd turns "\\" into "/" and resolves ".." → /api/admin → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/public%5C..%5Cadmin',
    seen: 'reaches the Worker unchanged; encoded backslash → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '//api/admin/x',
    seen: 'reaches the Worker as a path (not a scheme-relative URL); empty segment → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/api/admin//x',
    seen: 'reaches the Worker unchanged; empty segment → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/api/admin;x=1/y',
    seen: 'reaches the Worker unchanged; ";" path parameter → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/api/public;/../admin',
    seen: 'workerd resolves ".." over the "public;" segment → /api/admin → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/api/admin#x',
    seen: 'workerd drops the fragment → /api/admin → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/API/ADMIN/x',
    seen: 'reaches the Worker unchanged; matching is case-insensitive → admin route → 401',
    status: 401,
    error: 'invalid_token',
  },
  {
    target: '/%c0%ae%c0%ae/api/admin',
    seen: 'reaches the Worker unchanged; overlong UTF-8 for "." is invalid UTF-8 → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '/http://169.254.169.254/x',
    seen: 'a path, not a URL: "http:" then an empty segment → 400; nothing is fetched from it',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: '//evil.example/x',
    seen: 'a path, not an authority: empty segment → 400',
    status: 400,
    error: 'invalid_path',
  },
  {
    target: 'http://169.254.169.254/api/public/x',
    seen: 'absolute-form target: workerd fails to parse it and answers 500 itself; the Worker never runs',
    status: 500,
    error: null,
  },
  {
    target: '/api/public/x',
    host: 'evil.example',
    seen: 'public route; forwarded to the configured upstream, never to the Host header',
    status: 200,
    error: null,
    forwarded: '/api/public/x',
  },
  {
    target: '/API/Public/X',
    seen: "public route matched case-insensitively; the prefix goes upstream in the route's spelling, the rest keeps its case",
    status: 200,
    error: null,
    forwarded: '/api/public/X',
  },
  {
    target: '/api/public/%7Euser',
    seen: 'public route; an encoded unreserved character is decoded in the canonical path',
    status: 200,
    error: null,
    forwarded: '/api/public/~user',
  },
  {
    target: '/api/public/./x?next=../../admin',
    seen: 'workerd removes "./"; the query string goes upstream unchanged',
    status: 200,
    error: null,
    forwarded: '/api/public/x?next=../../admin',
  },
]

let echo: Pick<EchoServer, 'origin'>
let gateway: RunningGateway

beforeAll(async () => {
  gateway = await sharedGateway()
  // The demo upstream `npm start` runs: the echo server, whose record is keyed by x-test-id.
  echo = { origin: gateway.upstreamOrigin }
})

async function send(rawCase: RawCase, id: string): Promise<RawResponse> {
  const host = rawCase.host ?? `127.0.0.1:${gateway.port}`
  return rawRequest(
    gateway.port,
    [`GET ${rawCase.target} HTTP/1.1`, `Host: ${host}`, `x-test-id: ${id}`, 'Connection: close'].join('\r\n'),
  )
}

describe('raw request-targets sent straight to the socket', () => {
  test.each(CASES)('$target (host $host): $seen', async (rawCase) => {
    const id = crypto.randomUUID()
    const response = await send(rawCase, id)
    const received = await upstreamReceived(echo, id)

    expect(response.status).toBe(rawCase.status)
    if (rawCase.forwarded === undefined) {
      // Never allowed, so never 2xx and never forwarded in any form.
      expect(response.status).toBeGreaterThanOrEqual(400)
      expect(received).toEqual([])
    } else {
      expect(received).toHaveLength(1)
      const [upstream] = received
      expect(upstream?.url).toBe(rawCase.forwarded)
      // The configured echo origin, not the client's Host, received it, as an anonymous request.
      expect(upstream?.headers.host).toBe(new URL(echo.origin).host)
      expect(upstream?.headers['x-auth-method']).toBe('none')
      expect(upstream?.headers['x-auth-user']).toBeUndefined()
    }
    if (rawCase.error !== null) {
      const body = JSON.parse(response.body) as Record<string, unknown>
      expect(body).toMatchObject({ error: rawCase.error, request_id: response.headers['x-request-id'] })
      expect(typeof body.error_description).toBe('string')
    }
  })

  test('the gateway is still healthy after every malformed target', async () => {
    const response = await fetch(`${gateway.origin}/healthz`)
    expect(response.status).toBe(200)
  })
})

describe('a Host header naming another site', () => {
  test('is reported as X-Forwarded-Host but does not choose the upstream', async () => {
    const id = crypto.randomUUID()
    const response = await send(
      { target: '/api/public/x', host: 'evil.example', seen: '', status: 200, error: null },
      id,
    )
    expect(response.status).toBe(200)
    const [upstream] = await upstreamReceived(echo, id)
    expect(upstream?.headers.host).toBe(new URL(echo.origin).host)
    expect(upstream?.headers['x-forwarded-host']).toBe('evil.example')
  })
})
