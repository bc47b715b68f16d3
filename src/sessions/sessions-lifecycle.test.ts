import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { bearer, createUser, login, PASSWORD } from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { type BrowserLogin, browserLogin, sameOrigin } from '../../test/support/sessions'
import { deleteExpiredRows } from '../cleanup'
import { sha256Hex } from '../crypto/bytes'
import { revokeSubject } from './revoke-subject'

const STRICT_ROUTES = [
  { path: '/app', upstream: 'UPSTREAM_URL', credentials: ['session'], revocation: 'strict' },
]

afterEach(() => {
  vi.useRealTimers()
})

/** Status and forward count of a session request to /app, on the default or a strict route. */
async function callApp(
  browser: BrowserLogin,
  strict = false,
): Promise<{ status: number; forwarded: number }> {
  const id = testId()
  const init = { headers: { cookie: browser.cookie, 'x-test-id': id, accept: 'application/json' } }
  const response = strict
    ? await fetchWithEnv({ ROUTES: STRICT_ROUTES }, '/app/x', init)
    : await gatewayFetch('/app/x', init)
  await response.arrayBuffer()
  return { status: response.status, forwarded: (await upstreamReceived(id)).length }
}

const ACCEPTED = { status: 200, forwarded: 1 }
const REJECTED = { status: 401, forwarded: 0 }

async function sessionRow(browser: BrowserLogin) {
  return env.DB.prepare('SELECT * FROM sessions WHERE token_hash = ?1')
    .bind(await sha256Hex(browser.session))
    .first<{ id: string; ended_at: number | null; last_seen_at: number }>()
}

describe('ending sessions', () => {
  it('POST /auth/logout ends the session at once (default and strict routes), clears the cookies, 303 to login', async () => {
    await createUser('l-logout')
    const browser = await browserLogin('l-logout')
    expect(await callApp(browser)).toEqual(ACCEPTED)
    const response = await gatewayFetch('/auth/logout', {
      method: 'POST',
      redirect: 'manual',
      headers: sameOrigin(browser),
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/login')
    const cleared = response.headers.getAll('set-cookie')
    expect(cleared.some((c) => /^gw_session=;.*Max-Age=0/.test(c))).toBe(true)
    expect(await callApp(browser)).toEqual(REJECTED)
    expect(await callApp(browser, true)).toEqual(REJECTED)
    expect(await sessionRow(browser)).toMatchObject({ ended_at: expect.any(Number) })
  })

  it('a cross-site logout POST is refused and the session lives on', async () => {
    await createUser('l-logout-csrf')
    const browser = await browserLogin('l-logout-csrf')
    const response = await gatewayFetch('/auth/logout', {
      method: 'POST',
      headers: { cookie: browser.cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    })
    expect(response.status).toBe(403)
    expect(await callApp(browser)).toEqual(ACCEPTED)
  })

  it('a bearer logout still answers 204 (the session cookie alongside is untouched)', async () => {
    await createUser('l-bearer')
    const tokens = await login('l-bearer')
    const response = await gatewayFetch('/auth/logout', {
      method: 'POST',
      headers: bearer(tokens.access_token),
    })
    expect(response.status).toBe(204)
  })

  it('POST /auth/logout-all with the session ends every session of the user', async () => {
    await createUser('l-all')
    const here = await browserLogin('l-all')
    const there = await browserLogin('l-all')
    const response = await gatewayFetch('/auth/logout-all', {
      method: 'POST',
      redirect: 'manual',
      headers: sameOrigin(here),
    })
    expect(response.status).toBe(303)
    for (const browser of [here, there]) {
      expect(await callApp(browser)).toEqual(REJECTED)
      expect(await callApp(browser, true)).toEqual(REJECTED)
    }
  })

  it('a password change (bearer) ends every browser session of the user', async () => {
    await createUser('l-password')
    const browser = await browserLogin('l-password')
    const tokens = await login('l-password')
    const response = await gatewayFetch('/auth/password', {
      method: 'POST',
      headers: { ...bearer(tokens.access_token), 'content-type': 'application/json' },
      body: JSON.stringify({
        current_password: PASSWORD,
        new_password: 'a different horse, battery and staple',
      }),
    })
    expect(response.status).toBe(200)
    expect(await callApp(browser, true)).toEqual(REJECTED)
    expect(await callApp(browser)).toEqual(REJECTED)
    expect(await sessionRow(browser)).toMatchObject({ ended_at: expect.any(Number) })
  })

  it('revoke-user (revokeSubject) ends sessions: strict routes at once, D1 rows marked ended', async () => {
    await createUser('l-revoke')
    const browser = await browserLogin('l-revoke')
    const user = await env.DB.prepare("SELECT id FROM users WHERE username = 'l-revoke'").first<{
      id: string
    }>()
    await revokeSubject(env, user?.id ?? '', 900)
    expect(await callApp(browser, true)).toEqual(REJECTED)
    expect(await callApp(browser)).toEqual(REJECTED)
    expect(await sessionRow(browser)).toMatchObject({ ended_at: expect.any(Number) })
  })

  it('a disabled user is refused on strict routes at once (default routes within the 60 s cache bound)', async () => {
    await createUser('l-disabled')
    const browser = await browserLogin('l-disabled')
    expect(await callApp(browser, true)).toEqual(ACCEPTED)
    await env.DB.prepare("UPDATE users SET disabled = 1 WHERE username = 'l-disabled'").run()
    expect(await callApp(browser, true)).toEqual(REJECTED)
  })

  it("DELETE /auth/sessions/{id} ends one of the caller's sessions; another user's id is 404", async () => {
    await createUser('l-delete')
    await createUser('l-delete-other')
    const keep = await browserLogin('l-delete')
    const end = await browserLogin('l-delete')
    const other = await browserLogin('l-delete-other')
    const target = (await sessionRow(end))?.id
    const foreign = await gatewayFetch(`/auth/sessions/${target}`, {
      method: 'DELETE',
      headers: sameOrigin(other),
    })
    expect(foreign.status).toBe(404)
    expect(await callApp(end)).toEqual(ACCEPTED)
    const response = await gatewayFetch(`/auth/sessions/${target}`, {
      method: 'DELETE',
      headers: sameOrigin(keep),
    })
    expect(response.status).toBe(204)
    expect(await callApp(end)).toEqual(REJECTED)
    expect(await callApp(keep)).toEqual(ACCEPTED)
  })

  it('POST /auth/sessions/{id}/end does the same for the HTML page and returns to it', async () => {
    await createUser('l-form-end')
    const keep = await browserLogin('l-form-end')
    const end = await browserLogin('l-form-end')
    const response = await gatewayFetch(`/auth/sessions/${(await sessionRow(end))?.id}/end`, {
      method: 'POST',
      redirect: 'manual',
      headers: sameOrigin(keep, { accept: 'text/html' }),
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/sessions')
    expect(await callApp(end)).toEqual(REJECTED)
  })
})

describe('GET /auth/sessions', () => {
  it('lists the caller’s live sessions as JSON with the current one marked, never a cookie or hash', async () => {
    await createUser('l-list')
    const first = await browserLogin('l-list', {
      headers: { 'user-agent': 'Browser One', 'cf-connecting-ip': '192.0.2.1' },
    })
    const second = await browserLogin('l-list', { headers: { 'user-agent': 'Browser Two' } })
    const response = await gatewayFetch('/auth/sessions', { headers: sameOrigin(second) })
    const body = (await response.json()) as {
      items: { user_agent: string; ip: string | null; current: boolean }[]
    }
    expect(body.items).toHaveLength(2)
    expect(body.items.find((s) => s.current)?.user_agent).toBe('Browser Two')
    expect(body.items.find((s) => !s.current)).toMatchObject({ user_agent: 'Browser One', ip: '192.0.2.1' })
    const text = JSON.stringify(body)
    for (const secret of [first.session, second.session, await sha256Hex(first.session)])
      expect(text).not.toContain(secret)
  })

  it('renders the page for browsers, with the security headers; signed out, it redirects to login', async () => {
    await createUser('l-page')
    const browser = await browserLogin('l-page')
    const page = await gatewayFetch('/auth/sessions', {
      headers: sameOrigin(browser, { accept: 'text/html' }),
    })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(await page.text()).toContain('current session')
    const signedOut = await gatewayFetch('/auth/sessions', {
      redirect: 'manual',
      headers: { accept: 'text/html' },
    })
    expect(signedOut.status).toBe(302)
    expect(signedOut.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Fsessions')
  })
})

describe('idle timeout and absolute lifetime', () => {
  it('a session idle longer than session_idle_timeout_seconds is refused on default routes (no D1 read needed)', async () => {
    await createUser('l-idle')
    const browser = await browserLogin('l-idle')
    expect(await callApp(browser)).toEqual(ACCEPTED)
    vi.useFakeTimers({ now: Date.now() + 8 * 3600_000 + 5 * 60_000, toFake: ['Date'] })
    expect(await callApp(browser)).toEqual(REJECTED)
  })

  it('activity keeps it alive: last_seen_at is recorded (at most once a minute) and read on strict routes', async () => {
    await createUser('l-active')
    const browser = await browserLogin('l-active')
    const before = (await sessionRow(browser))?.last_seen_at ?? 0
    vi.useFakeTimers({ now: Date.now() + 2 * 3600_000, toFake: ['Date'] })
    expect(await callApp(browser)).toEqual(ACCEPTED)
    expect((await sessionRow(browser))?.last_seen_at).toBeGreaterThan(before + 3600)
  })

  it('an idle session is refused on strict routes (D1 last_seen_at)', async () => {
    await createUser('l-idle-strict')
    const browser = await browserLogin('l-idle-strict')
    await env.DB.prepare('UPDATE sessions SET last_seen_at = last_seen_at - 9 * 3600 WHERE token_hash = ?1')
      .bind(await sha256Hex(browser.session))
      .run()
    expect(await callApp(browser, true)).toEqual(REJECTED)
  })

  it('a session past its absolute expiry is refused even when active', async () => {
    await createUser('l-absolute')
    const browser = await browserLogin('l-absolute')
    await env.DB.prepare('UPDATE sessions SET expires_at = ?2 WHERE token_hash = ?1')
      .bind(await sha256Hex(browser.session), Math.floor(Date.now() / 1000) - 1)
      .run()
    expect(await callApp(browser, true)).toEqual(REJECTED)
  })

  it('on default routes the cached record carries the absolute expiry (idle timeout raised out of the way)', async () => {
    await createUser('l-absolute-kv')
    const settings = { ...(env.SETTINGS as object), session_idle_timeout_seconds: 2_592_000 }
    const browser = await browserLogin('l-absolute-kv')
    const call = async () => {
      const id = testId()
      const response = await fetchWithEnv({ SETTINGS: settings }, '/app/x', {
        headers: { cookie: browser.cookie, 'x-test-id': id },
      })
      await response.arrayBuffer()
      return { status: response.status, forwarded: (await upstreamReceived(id)).length }
    }
    expect(await call()).toEqual(ACCEPTED)
    vi.useFakeTimers({ now: Date.now() + 7 * 86_400_000 + 1000, toFake: ['Date'] })
    expect(await call()).toEqual(REJECTED)
  })
})

describe('the hourly clean-up', () => {
  it('deletes session rows past their absolute expiry or ended over a day ago, and keeps live ones', async () => {
    const now = Math.floor(Date.now() / 1000)
    const insert = (tag: string, expiresAt: number, endedAt: number | null) =>
      env.DB.prepare(
        `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, auth_method, auth_time, ended_at)
         VALUES (?1, ?1, 'cleanup-user', ?2, ?2, ?3, 'password', ?2, ?4)`,
      )
        .bind(`cleanup-${tag}`, now - 100, expiresAt, endedAt)
        .run()
    await insert('expired', now - 2 * 3600, null)
    await insert('ended', now + 3600, now - 2 * 86_400)
    await insert('just-ended', now + 3600, now - 60)
    await insert('live', now + 3600, null)
    const report = await deleteExpiredRows(env.DB, now)
    expect(report.browserSessions).toBe(2)
    const { results } = await env.DB.prepare(
      "SELECT id FROM sessions WHERE user_id = 'cleanup-user' ORDER BY id",
    ).all()
    expect(results.map((row) => row.id)).toEqual(['cleanup-just-ended', 'cleanup-live'])
  })
})
