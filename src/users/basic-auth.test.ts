import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser, PASSWORD, tokenRequest } from '../../test/support/accounts'
import { fetchWithEnv, type Received, testId, upstreamReceived } from '../../test/support/gateway'
import { setUserDisabled } from './store'

const ROUTES = [
  { path: '/legacy', upstream: 'UPSTREAM_URL', credentials: ['basic'] },
  { path: '/either', upstream: 'UPSTREAM_URL', credentials: ['jwt', 'basic'] },
  { path: '/api', upstream: 'UPSTREAM_URL' },
]

const BASIC_CHALLENGE = 'Basic realm="edge-auth-gateway", charset="UTF-8"'

/** RFC 7617 user-pass, UTF-8 encoded, then base64. */
function basicHeader(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`)
  return `Basic ${btoa(String.fromCharCode(...bytes))}`
}

interface Sent {
  response: Response
  body: Record<string, unknown>
  received: Received[]
}

async function send(
  path: string,
  headers: Record<string, string>,
  overrides: Record<string, unknown> = {},
): Promise<Sent> {
  const id = testId()
  const response = await fetchWithEnv({ ROUTES, ...overrides }, path, {
    headers: { ...headers, 'x-test-id': id },
  })
  const body = (await response.json()) as Record<string, unknown>
  return { response, body, received: await upstreamReceived(id) }
}

/** A distinct client address per test, so the per-IP throttle of one test never touches another. */
function ip(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2))
  return `198.51.${bytes[0]}.${bytes[1]}`
}

describe('HTTP Basic on a route that enables it', () => {
  it('the right password reaches the upstream as the user, without the Authorization header', async () => {
    const user = await createUser('basic-ok', ['editor'])
    const { response, received } = await send('/legacy/report', {
      authorization: basicHeader('basic-ok', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(200)
    expect(received).toHaveLength(1)
    const [seen] = received as [Received]
    expect(seen.headers['x-auth-method']).toBe('basic')
    expect(seen.headers['x-auth-user-id']).toBe(user.id)
    expect(seen.headers['x-auth-user']).toBe('basic-ok')
    expect(seen.headers['x-auth-scopes']).toBe('read write')
    expect(seen.headers.authorization).toBeUndefined()
    expect(seen.rawHeaders.join('\n')).not.toContain(PASSWORD)
  })

  it('accepts the scheme name in any case (RFC 7617: "basic" is "Basic")', async () => {
    await createUser('basic-case')
    const header = basicHeader('basic-case', PASSWORD).replace('Basic', 'bASIC')
    const { response } = await send('/legacy/x', { authorization: header, 'cf-connecting-ip': ip() })
    expect(response.status).toBe(200)
  })

  it('splits user-pass at the first colon, so a password may contain colons', async () => {
    await createUser('basic-colon', ['user'], 'pass:with:colons and length')
    const { response } = await send('/legacy/x', {
      authorization: basicHeader('basic-colon', 'pass:with:colons and length'),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(200)
  })

  it('decodes user-pass as UTF-8, so a non-ASCII password matches its hash', async () => {
    await createUser('basic-utf8', ['user'], 'pässwörd – ünïcode')
    const { response } = await send('/legacy/x', {
      authorization: basicHeader('basic-utf8', 'pässwörd – ünïcode'),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(200)
  })

  it('works on a route that accepts both bearer tokens and Basic', async () => {
    await createUser('basic-either')
    const { response, received } = await send('/either/x', {
      authorization: basicHeader('basic-either', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(200)
    expect((received[0] as Received).headers['x-auth-method']).toBe('basic')
  })
})

describe('HTTP Basic failures', () => {
  it('a wrong password is 401 invalid_credentials with the Basic challenge, nothing forwarded', async () => {
    await createUser('basic-wrong')
    const { response, body, received } = await send('/legacy/x', {
      authorization: basicHeader('basic-wrong', 'guess-1'),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(BASIC_CHALLENGE)
    expect(body).toEqual({
      error: 'invalid_credentials',
      error_description: 'The username or password is incorrect.',
      request_id: response.headers.get('x-request-id'),
    })
    expect(JSON.stringify(body)).not.toContain('guess-1')
    expect(received).toEqual([])
  })

  it('an unknown user gets exactly the answer a wrong password gets (no account oracle)', async () => {
    await createUser('basic-oracle')
    const wrong = await send('/legacy/x', {
      authorization: basicHeader('basic-oracle', 'guess'),
      'cf-connecting-ip': ip(),
    })
    const unknown = await send('/legacy/x', {
      authorization: basicHeader('basic-nobody', 'guess'),
      'cf-connecting-ip': ip(),
    })
    expect(unknown.response.status).toBe(wrong.response.status)
    expect(unknown.response.headers.get('www-authenticate')).toBe(
      wrong.response.headers.get('www-authenticate'),
    )
    expect({ ...unknown.body, request_id: null }).toEqual({ ...wrong.body, request_id: null })
    expect(unknown.received).toEqual([])
  })

  it('a disabled account is refused even with its right password', async () => {
    await createUser('basic-disabled')
    await setUserDisabled(env.DB, 'basic-disabled', true)
    const { response, received } = await send('/legacy/x', {
      authorization: basicHeader('basic-disabled', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(BASIC_CHALLENGE)
    expect(received).toEqual([])
  })

  it.each([
    ['no user-pass at all', 'Basic'],
    ['not base64', 'Basic !!!not-base64!!!'],
    ['no colon in user-pass', `Basic ${btoa('basic-ok')}`],
    ['invalid UTF-8 bytes', `Basic ${btoa('basic-ok:\xff\xfe')}`],
    ['two credentials in one header', `Basic ${btoa('a:b')} ${btoa('c:d')}`],
  ])('a malformed header (%s) is 401 with the Basic challenge, nothing forwarded', async (_label, header) => {
    const { response, body, received } = await send('/legacy/x', {
      authorization: header,
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(BASIC_CHALLENGE)
    expect(body.error).toBe('invalid_credentials')
    expect(received).toEqual([])
  })

  it('no credentials on a Basic-only route is 401 with the Basic challenge', async () => {
    const { response, received } = await send('/legacy/x', {})
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(BASIC_CHALLENGE)
    expect(received).toEqual([])
  })

  it('the challenge names the configured realm', async () => {
    await createUser('basic-realm')
    const settings = { ...(env.SETTINGS as Record<string, unknown>), realm: 'legacy reports' }
    const { response } = await send(
      '/legacy/x',
      { authorization: basicHeader('basic-realm', 'wrong'), 'cf-connecting-ip': ip() },
      { SETTINGS: settings },
    )
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="legacy reports", charset="UTF-8"')
  })

  it('valid Basic credentials on a route that does not enable Basic are 401, nothing forwarded', async () => {
    await createUser('basic-not-here', ['admin'])
    const { response, body, received } = await send('/api/things', {
      authorization: basicHeader('basic-not-here', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="edge-auth-gateway"')
    expect(body.error).toBe('invalid_token')
    expect(received).toEqual([])
  })
})

describe('HTTP Basic throttling is the password login throttling', () => {
  it('after five wrong passwords even the right one is 429 with Retry-After, nothing forwarded', async () => {
    await createUser('basic-throttle')
    const address = ip()
    for (let i = 0; i < 5; i++) {
      const { response } = await send('/legacy/x', {
        authorization: basicHeader('basic-throttle', `guess-${i}`),
        'cf-connecting-ip': address,
      })
      expect(response.status).toBe(401)
    }
    const { response, body, received } = await send('/legacy/x', {
      authorization: basicHeader('basic-throttle', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(429)
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(body.error).toBe('rate_limited')
    expect(received).toEqual([])
  })

  it('failed password grants on /auth/token lock the account for Basic too', async () => {
    await createUser('basic-shared')
    for (let i = 0; i < 5; i++) {
      const response = await tokenRequest(
        { grant_type: 'password', username: 'basic-shared', password: `guess-${i}` },
        { 'cf-connecting-ip': ip() },
      )
      expect(response.status).toBe(400)
    }
    const { response, received } = await send('/legacy/x', {
      authorization: basicHeader('basic-shared', PASSWORD),
      'cf-connecting-ip': ip(),
    })
    expect(response.status).toBe(429)
    expect(received).toEqual([])
  })

  it('failed Basic attempts lock the account for the password grant too', async () => {
    await createUser('basic-shared-back')
    for (let i = 0; i < 5; i++) {
      await send('/legacy/x', {
        authorization: basicHeader('basic-shared-back', `guess-${i}`),
        'cf-connecting-ip': ip(),
      })
    }
    const response = await tokenRequest(
      { grant_type: 'password', username: 'basic-shared-back', password: PASSWORD },
      { 'cf-connecting-ip': ip() },
    )
    expect(response.status).toBe(429)
  })

  it('one address spraying several accounts is throttled per IP', async () => {
    const settings = {
      ...(env.SETTINGS as Record<string, unknown>),
      throttle: { ip_max_failures_per_window: 3 },
    }
    await createUser('basic-spray-target')
    const address = ip()
    for (const name of ['spray-1', 'spray-2', 'spray-3']) {
      const { response } = await send(
        '/legacy/x',
        { authorization: basicHeader(name, 'Winter2024!'), 'cf-connecting-ip': address },
        { SETTINGS: settings },
      )
      expect(response.status).toBe(401)
    }
    const { response, received } = await send(
      '/legacy/x',
      { authorization: basicHeader('basic-spray-target', PASSWORD), 'cf-connecting-ip': address },
      { SETTINGS: settings },
    )
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).not.toBeNull()
    expect(received).toEqual([])
  })
})

describe('the 401 challenge of a route that accepts both tokens and Basic', () => {
  it('names both schemes (RFC 9110 §11.6.1) so a Basic-only client is prompted too, and forwards nothing', async () => {
    const id = testId()
    const routes = [{ path: '/both', upstream: 'UPSTREAM_URL', credentials: ['jwt', 'basic'] }]
    const response = await fetchWithEnv({ ROUTES: routes }, '/both/x', { headers: { 'x-test-id': id } })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="edge-auth-gateway", Basic realm="edge-auth-gateway", charset="UTF-8"',
    )
    expect(await upstreamReceived(id)).toEqual([])
  })
})
