import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { gatewayFetch } from '../../test/support/gateway'
import { browserLogin, openLoginForm, setCookies } from '../../test/support/sessions'

describe('GET /auth/login', () => {
  it('serves an accessible form with its CSRF token, the product name, and the page security headers', async () => {
    const response = await gatewayFetch('/auth/login?return_to=%2Fapp%2Freports')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    // The passkey script is the only script, allowed by its hash (pages/passkey-script.ts).
    expect(response.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self'$/,
    )
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const csrf = setCookies(response).get('gw_csrf')?.value
    const html = await response.text()
    expect(html).toContain(`name="csrf" value="${csrf}"`)
    expect(html).toContain('name="return_to" value="/app/reports"')
    expect(html).toMatch(/<label for="username">/)
    expect(html).toMatch(/<label for="password">/)
    expect(html).toContain('Edge Auth Gateway (local)')
    expect(html).toContain('href="/auth/register"')
    expect(html).not.toMatch(/style=/)
    expect(html.match(/<script/g)).toHaveLength(1)
  })

  it('turns an off-site return_to into / (a missing one lands on the account home)', async () => {
    const html = await (await gatewayFetch('/auth/login?return_to=%2F%2Fevil.example')).text()
    expect(html).toContain('name="return_to" value="/"')
  })

  it('serves its stylesheet from the gateway origin, cacheable', async () => {
    const response = await gatewayFetch('/auth/assets/gateway.css')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/)
  })
})

describe('POST /auth/login', () => {
  it('redirects (303) to a validated return_to', async () => {
    await createUser('lg-return')
    const ok = await browserLogin('lg-return', { returnTo: '/app/reports?year=2026' })
    expect(ok.response.headers.get('location')).toBe('/app/reports?year=2026')
    const evil = await browserLogin('lg-return', { returnTo: '/\\evil.example' })
    expect(evil.response.headers.get('location')).toBe('/')
  })

  it('answers a wrong password and an unknown user alike: 401, the form again, one generic message', async () => {
    await createUser('lg-wrong')
    const wrong = await browserLogin('lg-wrong', { password: 'not the password' })
    const unknown = await browserLogin('lg-nobody', { password: 'not the password' })
    const messages = []
    for (const attempt of [wrong, unknown]) {
      expect(attempt.response.status).toBe(401)
      expect(attempt.session).toBe('')
      const html = await attempt.response.text()
      const error = /<p id="login-error"[^>]*>([^<]*)<\/p>/.exec(html)?.[1]
      expect(html).toContain('aria-describedby="login-error"')
      messages.push(error)
    }
    expect(messages[0]).toBe('The username or password is incorrect.')
    expect(messages[1]).toBe(messages[0])
  })

  it('escapes what it echoes back (a username with markup)', async () => {
    const attempt = await browserLogin('<img src=x onerror=alert(1)>', { password: 'x' })
    const html = await attempt.response.text()
    expect(html).not.toContain('<img src=x')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('shows the wait when the account is throttled: 429 with Retry-After, and no session', async () => {
    await createUser('lg-throttled')
    // A backoff lock of two minutes (below the hourly cap, which would say an hour).
    await env.DB.prepare(
      'INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until) VALUES (?1, ?2, 1, 1, ?3)',
    )
      .bind('account:lg-throttled', Math.floor(Date.now() / 1000), Math.floor(Date.now() / 1000) + 120)
      .run()
    const attempt = await browserLogin('lg-throttled')
    expect(attempt.response.status).toBe(429)
    expect(Number(attempt.response.headers.get('retry-after'))).toBeGreaterThan(100)
    expect(attempt.session).toBe('')
    expect(await attempt.response.text()).toMatch(/Too many sign-in attempts\. Try again in 2 minutes\./)
  })

  it('a form token reused after login is the new session-bound one (the pre-session token is replaced)', async () => {
    await createUser('lg-rotate')
    const form = await openLoginForm()
    const login = await browserLogin('lg-rotate')
    expect(login.csrf).not.toBe(form.csrfField)
    expect(login.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('browser error pages and registration', () => {
  it('a browser form post that fails (unknown session) gets the HTML error page with the security headers', async () => {
    await createUser('lg-error-page')
    const login = await browserLogin('lg-error-page')
    const response = await gatewayFetch(`/auth/sessions/${crypto.randomUUID()}/end`, {
      method: 'POST',
      headers: { cookie: login.cookie, 'sec-fetch-site': 'same-origin', accept: 'text/html' },
    })
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(response.headers.get('x-request-id')).toBeTruthy()
    expect(await response.text()).toContain('No such session.')
  })

  it('a cross-site form post to a gateway page is refused with the error page (403 csrf_failed)', async () => {
    await createUser('lg-error-csrf')
    const login = await browserLogin('lg-error-csrf')
    const response = await gatewayFetch('/auth/logout-all', {
      method: 'POST',
      headers: { cookie: login.cookie, 'sec-fetch-site': 'cross-site', accept: 'application/json' },
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'csrf_failed' })
  })

  it('GET /auth/register shows the form; a browser form POST creates the account and redirects to login', async () => {
    const page = await gatewayFetch('/auth/register')
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('action="/auth/register"')
    const post = (username: string, password: string) =>
      gatewayFetch('/auth/register', {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ username, password }),
      })
    const created = await post('lg-registered', 'a long and unusual passphrase 42')
    expect(created.status).toBe(303)
    expect(created.headers.get('location')).toBe('/auth/login')
    const duplicate = await post('lg-registered', 'a long and unusual passphrase 42')
    expect(duplicate.status).toBe(409)
    expect(await duplicate.text()).toContain('That username is taken.')
  })
})
