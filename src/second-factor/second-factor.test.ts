/**
 * TOTP and recovery codes end to end in workerd, with real D1 and KV (issue 22, item 2): codes are
 * computed by the test from the secret it read off the setup page, as an authenticator app would.
 * Each test names the attack or mistake it covers; each fails if that defense is taken out.
 */
import { env } from 'cloudflare:test'
import { generateKeyPair, importJWK, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { adminJson, adminToken, waitForAudit } from '../../test/support/admin'
import { fetchWithEnv, GATEWAY, gatewayFetch } from '../../test/support/gateway'
import {
  answer,
  enrolNewUser,
  field,
  pageOf,
  passwordStep,
  postForm,
  totpCode,
  wrongCode,
} from '../../test/support/second-factor'
import { browserLogin, sameOrigin, setCookies } from '../../test/support/sessions'
import { unusedRecoveryCodes } from './store'

function sessionCookieOf(response: Response): string {
  return setCookies(response).get('gw_session')?.value ?? ''
}

async function sessionAmrs(userId: string): Promise<string[]> {
  const rows = await env.DB.prepare(
    'SELECT amr FROM sessions WHERE user_id = ?1 AND ended_at IS NULL ORDER BY created_at',
  )
    .bind(userId)
    .all<{ amr: string }>()
  return rows.results.map((row) => row.amr)
}

describe('enrolment and sign-in with password + code', () => {
  it('a user who confirmed TOTP gets no session from the password alone, then one with amr pwd+otp+mfa from the code', async () => {
    const user = await enrolNewUser('sf-signin')
    const row = await env.DB.prepare('SELECT secret FROM totp_credentials WHERE user_id = ?1')
      .bind(user.userId)
      .first<{ secret: string }>()
    // Stored sealed, never as the base32 the user saw.
    expect(row?.secret).not.toContain(user.secret)
    expect(row?.secret.split('.')).toHaveLength(4)
    const flag = await env.DB.prepare('SELECT mfa_enabled FROM users WHERE id = ?1')
      .bind(user.userId)
      .first('mfa_enabled')
    expect(flag).toBe(1)

    const pending = await passwordStep(user.username)
    expect(pending.response.status).toBe(303)
    expect(pending.response.headers.get('location')).toBe('/auth/second-factor')
    expect(sessionCookieOf(pending.response)).toBe('')

    const page = await gatewayFetch('/auth/second-factor', {
      redirect: 'manual',
      headers: { cookie: pending.cookie, accept: 'text/html' },
    })
    expect(page.status).toBe(200)
    expect(field(await page.text(), 'csrf')).toBe(pending.csrf)

    const done = await answer(pending, { code: await totpCode(user.secret, user.usedStep + 1) })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe('/app/')
    expect(sessionCookieOf(done)).toMatch(/.{43,}/)
    const amrs = await sessionAmrs(user.userId)
    expect(JSON.parse(amrs.at(-1) ?? '[]')).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']))
  })

  it('replay: the same code a second time is refused (401, no session), and of two concurrent uses exactly one wins', async () => {
    const user = await enrolNewUser('sf-replay')
    const code = await totpCode(user.secret, user.usedStep + 1)
    const [first, second] = await Promise.all([passwordStep(user.username), passwordStep(user.username)])
    const results = await Promise.all([answer(first, { code }), answer(second, { code })])
    const statuses = results.map((r) => r.status).sort()
    expect(statuses).toEqual([303, 401])
    expect(results.filter((r) => sessionCookieOf(r) !== '')).toHaveLength(1)

    const again = await passwordStep(user.username)
    const replayed = await answer(again, { code })
    expect(replayed.status).toBe(401)
    expect(sessionCookieOf(replayed)).toBe('')
    // The code the enrolment used is refused too: its step is behind the last used one.
    const older = await answer(again, { code: await totpCode(user.secret, user.usedStep) })
    expect(older.status).toBe(401)
  })

  it('a malformed code is a 400 page, not a 500, and is not counted as a guess', async () => {
    const user = await enrolNewUser('sf-malformed')
    const pending = await passwordStep(user.username)
    for (const code of ['abcdef', '12345', '9'.repeat(5000)]) {
      const response = await answer(pending, { code })
      expect(response.status).toBe(400)
    }
    const count = await env.DB.prepare(
      'SELECT consecutive_failures AS n FROM auth_failures WHERE subject = ?1',
    )
      .bind(`totp:${user.userId}`)
      .first('n')
    expect(count ?? 0).toBe(0)
  })

  it('a cross-site POST of the second step is refused (403) even with the right code', async () => {
    const user = await enrolNewUser('sf-csrf')
    const pending = await passwordStep(user.username)
    const response = await postForm(
      '/auth/second-factor',
      { csrf: pending.csrf, code: await totpCode(user.secret, user.usedStep + 1) },
      { cookie: pending.cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    )
    expect(response.status).toBe(403)
    expect(sessionCookieOf(response)).toBe('')
  })
})

describe('throttling wrong codes like passwords', () => {
  it('after five wrong codes the sixth attempt is 429 with Retry-After, even with the right code', async () => {
    const user = await enrolNewUser('sf-throttle')
    const pending = await passwordStep(user.username)
    const wrong = await wrongCode(user.secret)
    for (let i = 0; i < 5; i++) {
      const response = await answer(pending, { code: wrong })
      expect(response.status).toBe(401)
    }
    const locked = await answer(pending, { code: await totpCode(user.secret, user.usedStep + 1) })
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(sessionCookieOf(locked)).toBe('')
  })
})

describe('recovery codes', () => {
  it('a recovery code signs in once; the same code again is refused', async () => {
    const user = await enrolNewUser('sf-recovery')
    const code = user.recoveryCodes[3] as string
    const first = await answer(await passwordStep(user.username), { recovery_code: code.toUpperCase() })
    expect(first.status).toBe(303)
    expect(sessionCookieOf(first)).not.toBe('')
    const second = await answer(await passwordStep(user.username), { recovery_code: code })
    expect(second.status).toBe(401)
    expect(sessionCookieOf(second)).toBe('')
    expect(await unusedRecoveryCodes(env.DB, user.userId)).toBe(9)
  })
})

describe('the pending sign-in cookie', () => {
  async function pendingJwt(
    userId: string,
    username: string,
    options: { iat: number; key?: CryptoKey | Uint8Array; kid?: string },
  ): Promise<string> {
    const jwk = (JSON.parse(env.SIGNING_KEYS ?? '{}') as { keys: (JsonWebKey & { kid: string })[] }).keys[0]
    const key = options.key ?? (await importJWK(jwk as JsonWebKey, 'ES256'))
    return new SignJWT({ username, amr: ['pwd'], method: 'password', persistent: false, return_to: '/app/' })
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? jwk?.kid, typ: 'gw-pending-sign-in+jwt' })
      .setIssuer(GATEWAY)
      .setAudience(`${GATEWAY}/auth/second-factor`)
      .setSubject(userId)
      .setIssuedAt(options.iat)
      .setExpirationTime(options.iat + 300)
      .sign(key)
  }

  it('one signed by the gateway and fresh is accepted (the control), one expired or forged is sent to login', async () => {
    const user = await enrolNewUser('sf-pending')
    const base = await passwordStep(user.username)
    const csrfCookie = base.cookie.split('; ')[1] as string
    const now = Math.floor(Date.now() / 1000)
    const with_ = (jwt: string) => ({ ...base, cookie: `gw_pending=${jwt}; ${csrfCookie}` })

    const fresh = await answer(with_(await pendingJwt(user.userId, user.username, { iat: now })), {
      recovery_code: user.recoveryCodes[0] as string,
    })
    expect(fresh.status).toBe(303)
    expect(fresh.headers.get('location')).toBe('/app/')

    const expired = await answer(with_(await pendingJwt(user.userId, user.username, { iat: now - 600 })), {
      recovery_code: user.recoveryCodes[1] as string,
    })
    expect(expired.status).toBe(303)
    expect(expired.headers.get('location')).toMatch(/^\/auth\/login/)
    expect(sessionCookieOf(expired)).toBe('')

    const { privateKey } = await generateKeyPair('ES256')
    const forged = await answer(
      with_(await pendingJwt(user.userId, user.username, { iat: now, key: privateKey })),
      {
        recovery_code: user.recoveryCodes[2] as string,
      },
    )
    expect(forged.headers.get('location')).toMatch(/^\/auth\/login/)
    expect(sessionCookieOf(forged)).toBe('')
    // Neither refused attempt spent its recovery code.
    expect(await unusedRecoveryCodes(env.DB, user.userId)).toBe(9)
  })
})

describe('step-up of a signed-in session', () => {
  it('a password-only session answers a code and is replaced by one with otp and mfa, back to return_to', async () => {
    const user = await enrolNewUser('sf-stepup')
    const page = await pageOf(user.browser, '/auth/second-factor?return_to=%2Fapp%2Fsettings')
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('Confirm it is you')
    const response = await postForm(
      '/auth/second-factor',
      {
        csrf: field(html, 'csrf'),
        return_to: field(html, 'return_to'),
        code: await totpCode(user.secret, user.usedStep + 1),
      },
      sameOrigin(user.browser),
    )
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/app/settings')
    const newSession = sessionCookieOf(response)
    expect(newSession).not.toBe('')
    expect(newSession).not.toBe(user.browser.session)
    const amrs = await sessionAmrs(user.userId)
    expect(amrs).toHaveLength(1)
    expect(JSON.parse(amrs[0] ?? '[]')).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']))
  })

  it('a step-up form without the session’s CSRF token is refused', async () => {
    const user = await enrolNewUser('sf-stepup-csrf')
    const response = await postForm(
      '/auth/second-factor',
      { csrf: 'x'.repeat(43), code: await totpCode(user.secret, user.usedStep + 1) },
      sameOrigin(user.browser),
    )
    expect(response.status).toBe(403)
    expect(sessionCookieOf(response)).toBe('')
  })
})

describe('fail closed without DATA_KEYS', () => {
  it('the setup page and a code answer 503 gateway_misconfigured, and no session starts', async () => {
    await createUser('sf-nokeys-new')
    const newcomer = await browserLogin('sf-nokeys-new')
    const setup = await fetchWithEnv({ DATA_KEYS: undefined }, '/auth/second-factor/setup', {
      headers: { cookie: newcomer.cookie, accept: 'text/html' },
    })
    expect(setup.status).toBe(503)
    expect(await setup.json()).toMatchObject({ error: 'gateway_misconfigured' })

    const user = await enrolNewUser('sf-nokeys')

    const pending = await passwordStep(user.username)
    const response = await fetchWithEnv({ DATA_KEYS: undefined }, '/auth/second-factor', {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: pending.cookie,
        'sec-fetch-site': 'same-origin',
        origin: GATEWAY,
      },
      body: new URLSearchParams({ csrf: pending.csrf, code: await totpCode(user.secret, user.usedStep + 1) }),
    })
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'gateway_misconfigured' })
    expect(sessionCookieOf(response)).toBe('')
  })
})

describe('changing factors needs a recent sign-in', () => {
  it('removing TOTP with a sign-in older than the limit goes to login and removes nothing; a fresh one removes it', async () => {
    const user = await enrolNewUser('sf-remove')
    const manage = await (await pageOf(user.browser, '/auth/second-factor/setup')).text()
    expect(manage).toContain('Remove the authenticator app')
    const csrf = field(manage, 'csrf')
    await env.DB.prepare('UPDATE sessions SET auth_time = auth_time - 3600 WHERE user_id = ?1')
      .bind(user.userId)
      .run()

    const stale = await postForm('/auth/second-factor/remove', { csrf }, sameOrigin(user.browser))
    expect(stale.status).toBe(303)
    expect(stale.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Fsecond-factor%2Fsetup')
    const still = await env.DB.prepare('SELECT COUNT(*) AS n FROM totp_credentials WHERE user_id = ?1')
      .bind(user.userId)
      .first('n')
    expect(still).toBe(1)

    // Signing in again (password, then the code) makes it recent.
    const pending = await passwordStep(user.username, '/auth/second-factor/setup')
    const signedIn = await answer(pending, { code: await totpCode(user.secret, user.usedStep + 1) })
    expect(signedIn.status).toBe(303)
    const fresh = await browserLoginFrom(signedIn)
    const page = await (await pageOf(fresh, '/auth/second-factor/setup')).text()
    const removed = await postForm(
      '/auth/second-factor/remove',
      { csrf: field(page, 'csrf') },
      sameOrigin(fresh),
    )
    expect(removed.status).toBe(303)
    expect(removed.headers.get('location')).toBe('/auth/account')
    const gone = await env.DB.prepare(
      `SELECT (SELECT COUNT(*) FROM totp_credentials WHERE user_id = ?1) + (SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1) AS n,
              (SELECT mfa_enabled FROM users WHERE id = ?1) AS mfa`,
    )
      .bind(user.userId)
      .first<{ n: number; mfa: number }>()
    expect(gone).toEqual({ n: 0, mfa: 0 })
    // And the password alone signs in again.
    const again = await browserLogin(user.username)
    expect(again.session).not.toBe('')
  })

  it('the setup page itself sends a stale sign-in to login', async () => {
    const user = await enrolNewUser('sf-stale-setup')
    await env.DB.prepare('UPDATE sessions SET auth_time = auth_time - 3600 WHERE user_id = ?1')
      .bind(user.userId)
      .run()
    const response = await pageOf(user.browser, '/auth/second-factor/setup')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Fsecond-factor%2Fsetup')
  })
})

/** The browser state after a second step that set a session (cookie + CSRF cookie). */
async function browserLoginFrom(response: Response) {
  const set = setCookies(response)
  const session = set.get('gw_session')?.value ?? ''
  const csrf = set.get('gw_csrf')?.value ?? ''
  return {
    response,
    session,
    csrf,
    names: { session: 'gw_session', csrf: 'gw_csrf' },
    cookie: `gw_session=${session}; gw_csrf=${csrf}`,
  }
}

describe('admin: factors reported, reset audited', () => {
  it('GET /admin/users/{id} reports factors and never the secret; reset-factors removes them and the password alone signs in', async () => {
    const admin = await adminToken('sf-admin')
    const user = await enrolNewUser('sf-reset-target')
    const sealed = await env.DB.prepare('SELECT secret FROM totp_credentials WHERE user_id = ?1')
      .bind(user.userId)
      .first<string>('secret')
    const detail = await adminJson<{ factors: unknown }>(admin.token, 'GET', `/admin/users/${user.userId}`)
    expect(detail.factors).toEqual({
      totp: true,
      recovery_codes_remaining: 10,
      passkeys: 0,
      mfa_enabled: true,
    })
    const text = JSON.stringify(detail)
    expect(text).not.toContain(sealed)
    expect(text).not.toContain(user.secret)

    const reset = await adminJson(admin.token, 'POST', `/admin/users/${user.userId}/reset-factors`)
    expect(reset).toEqual({
      user_id: user.userId,
      totp_removed: true,
      recovery_codes_removed: 10,
      factors: { totp: false, recovery_codes_remaining: 0, passkeys: 0, mfa_enabled: false },
    })
    const event = await waitForAudit((e) => e.type === 'factors_reset' && e.subject_id === user.userId)
    expect(event.actor_id).toBe(admin.id)

    const again = await browserLogin(user.username)
    expect(again.response.headers.get('location')).toBe('/app/')
    expect(again.session).not.toBe('')
  })

  it('no audit event carries a code, a recovery code or the secret', async () => {
    const user = await enrolNewUser('sf-audit')
    await answer(await passwordStep(user.username), { code: await totpCode(user.secret, user.usedStep + 1) })
    await answer(await passwordStep(user.username), { recovery_code: user.recoveryCodes[0] as string })
    await waitForAudit((e) => e.type === 'recovery_code_used' && e.subject_id === user.userId)
    const rows = await env.DB.prepare('SELECT * FROM audit_events WHERE subject_id = ?1')
      .bind(user.userId)
      .all()
    const dump = JSON.stringify(rows.results)
    expect(dump).toContain('second_factor_verified')
    expect(dump).not.toContain(user.secret)
    expect(dump).not.toContain(user.recoveryCodes[0] as string)
    expect(dump).not.toContain(await totpCode(user.secret, user.usedStep + 1))
  })
})
