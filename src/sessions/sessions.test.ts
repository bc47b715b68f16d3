import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { browserLogin, type Fetcher, sameOrigin, setCookies } from '../../test/support/sessions'
import { sha256Hex } from '../crypto/bytes'
import { sessionKey } from '../db/kv-keys'

function withIssuer(issuer: string): Fetcher {
  return (path, init) => fetchWithEnv({ ISSUER: issuer }, path, init)
}

describe('session cookie attributes follow the scheme of ISSUER', () => {
  it('https: __Host-gw_session with Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain', async () => {
    await createUser('s-https')
    const login = await browserLogin('s-https', { through: withIssuer('https://gateway.test') })
    expect(login.response.status).toBe(303)
    const cookies = setCookies(login.response)
    const session = cookies.get('__Host-gw_session')
    expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const attributes = session?.attributes.split(/;\s*/) ?? []
    expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']))
    expect(session?.attributes).not.toMatch(/Domain=|Max-Age=/i)
    const csrf = cookies.get('__Host-gw_csrf')
    expect(csrf?.attributes).toMatch(/Secure/)
    expect(csrf?.attributes).not.toMatch(/HttpOnly/) // the page's scripts echo it in X-CSRF-Token
    expect(cookies.has('gw_session')).toBe(false)
  })

  it('plain http: gw_session with HttpOnly, SameSite=Lax, Path=/ and without Secure', async () => {
    await createUser('s-http')
    const login = await browserLogin('s-http', { through: withIssuer('http://gateway.test') })
    const session = setCookies(login.response).get('gw_session')
    expect(session?.attributes.split(/;\s*/)).toEqual(
      expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Lax']),
    )
    expect(session?.attributes).not.toMatch(/Secure/)
    expect(setCookies(login.response).has('__Host-gw_session')).toBe(false)
  })

  it('"remember me" makes the cookies persistent (Max-Age = session lifetime); without it they end with the browser', async () => {
    await createUser('s-remember')
    const remembered = await browserLogin('s-remember', { remember: true })
    expect(setCookies(remembered.response).get('gw_session')?.attributes).toContain('Max-Age=604800')
    const row = await env.DB.prepare('SELECT persistent FROM sessions WHERE token_hash = ?1')
      .bind(await sha256Hex(remembered.session))
      .first<{ persistent: number }>()
    expect(row?.persistent).toBe(1)
  })

  it('an https deployment ignores an unprefixed gw_session cookie (one a sibling host could plant)', async () => {
    await createUser('s-unprefixed')
    const https = withIssuer('https://gateway.test')
    const login = await browserLogin('s-unprefixed', { through: https })
    const response = await https('/auth/me', { headers: { cookie: `gw_session=${login.session}` } })
    expect(response.status).toBe(401)
  })
})

describe('only hashes of session cookies are stored', () => {
  it('no D1 row or KV entry holds the cookie value; token_hash is its SHA-256', async () => {
    await createUser('s-hash')
    const login = await browserLogin('s-hash')
    const { results } = await env.DB.prepare('SELECT * FROM sessions').all()
    const dump = JSON.stringify(results)
    expect(dump).not.toContain(login.session)
    expect(dump).not.toContain(login.csrf)
    const hash = await sha256Hex(login.session)
    expect(results.some((row) => row.token_hash === hash)).toBe(true)
    const cached = await env.KV.get(sessionKey(hash))
    expect(cached).not.toBeNull()
    expect(cached).not.toContain(login.session)
  })
})

describe('session fixation', () => {
  it('every login makes a new session id and cookie value, and ends the session the browser presented', async () => {
    await createUser('s-fixation')
    const first = await browserLogin('s-fixation')
    const second = await browserLogin('s-fixation', { cookie: first.cookie })
    expect(second.response.status).toBe(303)
    expect(second.session).not.toBe(first.session)
    const ids = await env.DB.prepare(
      `SELECT id, ended_at FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 's-fixation')`,
    ).all<{ id: string; ended_at: number | null }>()
    expect(new Set(ids.results.map((row) => row.id)).size).toBe(2)
    expect((await gatewayFetch('/auth/me', { headers: { cookie: first.cookie } })).status).toBe(401)
    expect((await gatewayFetch('/auth/me', { headers: { cookie: second.cookie } })).status).toBe(200)
  })

  it('a session cookie planted before login (attacker-chosen value) is never adopted', async () => {
    await createUser('s-planted')
    const planted = 'A'.repeat(43)
    const login = await browserLogin('s-planted', { cookie: `gw_session=${planted}` })
    expect(login.session).not.toBe(planted)
    expect((await gatewayFetch('/auth/me', { headers: { cookie: `gw_session=${planted}` } })).status).toBe(
      401,
    )
  })
})

describe('session-authenticated traffic to a browser route', () => {
  it('forwards with X-Auth-Method: session and identity headers, never the gateway cookies or the session id', async () => {
    await createUser('s-forward')
    const login = await browserLogin('s-forward')
    const sessionId = (
      await env.DB.prepare('SELECT id FROM sessions WHERE token_hash = ?1')
        .bind(await sha256Hex(login.session))
        .first<{ id: string }>()
    )?.id
    const id = testId()
    const response = await gatewayFetch('/app/dashboard?tab=1', {
      headers: { cookie: `theme=dark; ${login.cookie}; other=1`, 'x-test-id': id },
    })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-auth-method']).toBe('session')
    expect(received?.headers['x-auth-user']).toBe('s-forward')
    expect(received?.headers.cookie).toBe('theme=dark; other=1')
    const everything = JSON.stringify(received)
    for (const secret of [login.session, login.csrf, sessionId ?? 'missing', 'gw_session', 'gw_csrf'])
      expect(everything).not.toContain(secret)
  })

  it('a browser navigation without a session is redirected to the login page with return_to', async () => {
    const id = testId()
    const response = await gatewayFetch('/app/reports/2026?view=full', {
      redirect: 'manual',
      headers: { accept: 'text/html,application/xhtml+xml', 'x-test-id': id },
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(
      `/auth/login?return_to=${encodeURIComponent('/app/reports/2026?view=full')}`,
    )
    expect(await upstreamReceived(id)).toHaveLength(0)
  })

  it('an API call (no text/html in Accept) or a POST gets the usual 401 JSON instead', async () => {
    const api = await gatewayFetch('/app/data', { headers: { accept: 'application/json' } })
    expect(api.status).toBe(401)
    expect(await api.json()).toMatchObject({ error: 'invalid_token' })
    const post = await gatewayFetch('/app/data', { method: 'POST', headers: { accept: 'text/html' } })
    expect(post.status).toBe(401)
  })

  it('a navigation with an invalid session cookie is redirected too', async () => {
    const response = await gatewayFetch('/app/', {
      redirect: 'manual',
      headers: { accept: 'text/html', cookie: `gw_session=${'B'.repeat(43)}` },
    })
    expect(response.status).toBe(302)
  })

  it('two session cookies under our name (one planted beside ours) are refused, not settled by picking one', async () => {
    await createUser('s-two-cookies')
    const login = await browserLogin('s-two-cookies')
    for (const cookie of [
      `gw_session=${'C'.repeat(43)}; ${login.cookie}`,
      `${login.cookie}; gw_session=${'C'.repeat(43)}`,
    ]) {
      expect((await gatewayFetch('/auth/me', { headers: { cookie } })).status).toBe(401)
    }
  })

  it('/auth/me accepts the session', async () => {
    await createUser('s-me')
    const login = await browserLogin('s-me')
    const response = await gatewayFetch('/auth/me', { headers: sameOrigin(login) })
    expect(await response.json()).toMatchObject({ username: 's-me', auth_method: 'session', roles: ['user'] })
  })
})
