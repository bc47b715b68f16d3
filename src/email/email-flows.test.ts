import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { PASSWORD } from '../../test/support/accounts'
import {
  gateway,
  ISSUER,
  linkIn,
  openForm,
  post,
  type Sent,
  type Through,
  userWithEmail,
  withoutCsrf,
} from '../../test/support/email'
import { fetchWithEnv } from '../../test/support/gateway'
import { setCookies } from '../../test/support/sessions'
import { listDevMail } from './dev-mailbox'
import { issueLinkToken } from './token-store'

const NEW_PASSWORD = 'a brand new passphrase for email tests'

async function forgot(through: Through, email: string, headers: Record<string, string> = {}) {
  const form = await openForm(through, '/auth/forgot-password')
  return post(through, '/auth/forgot-password', { csrf: form.csrf, email }, form.cookie, headers)
}

async function resetWith(through: Through, link: URL, password = NEW_PASSWORD) {
  const form = await openForm(through, `${link.pathname}${link.search}`)
  const token = link.searchParams.get('token') ?? ''
  return {
    form,
    response: await post(through, link.pathname, { csrf: form.csrf, token, password }, form.cookie),
  }
}

describe('forgot password → reset', () => {
  it('hands the binding a mail from the configured sender to the address, whose ISSUER link resets the password and ends every session and refresh token', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const user = await userWithEmail('em-reset', 'Reset.Me@example.com')
    const tokenResponse = await through('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'em-reset',
        password: PASSWORD,
      }).toString(),
    })
    const tokens = (await tokenResponse.json()) as { access_token: string; refresh_token: string }

    // A poisoned Host header on the request that sends the mail: the link still points at ISSUER.
    const answer = await forgot(through, ' reset.me@EXAMPLE.com ', { host: 'evil.example' })
    expect(answer.status).toBe(200)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.from).toEqual({ email: 'auth@example.com', name: 'Edge Auth Gateway' })
    expect(sent[0]?.to).toBe('Reset.Me@example.com')
    expect(sent[0]?.subject).toBe('Reset your Edge Auth Gateway (local) password')
    const link = linkIn(sent[0]?.text ?? '', '/auth/reset-password')
    expect(link.origin).toBe(ISSUER)
    const [copy] = await listDevMail(env.KV, 'Reset.Me@example.com')
    expect(copy?.text).toContain(link.href)

    // GET shows the page naming the account, with no-referrer, and does not spend the token.
    for (let i = 0; i < 2; i++) {
      const page = await openForm(through, `${link.pathname}${link.search}`)
      expect(page.response.status).toBe(200)
      expect(page.response.headers.get('referrer-policy')).toBe('no-referrer')
      expect(page.html).toContain('em-reset')
    }
    const { response } = await resetWith(through, link)
    expect(response.status).toBe(303)
    expect(setCookies(response).get('gw_session')?.value).toBeTruthy()

    const row = await env.DB.prepare('SELECT password_changed_at FROM users WHERE id = ?1')
      .bind(user.id)
      .first()
    expect(row).not.toBeNull()
    const refreshed = await through('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      }).toString(),
    })
    expect(refreshed.status).toBe(400)
    const me = await through('/auth/me', { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(me.status).toBe(401)

    // The link does not work twice.
    const again = await resetWith(through, link, 'yet another passphrase that is long')
    expect(again.form.response.status).toBe(400)
    expect(again.response.status).toBe(400)
  })

  it('answers an unknown address exactly as a known one (status, body) and sends nothing for it', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    await userWithEmail('em-known', 'known@example.com')
    const known = await forgot(through, 'known@example.com')
    const unknown = await forgot(through, 'nobody@example.com')
    expect(unknown.status).toBe(known.status)
    expect(withoutCsrf(await unknown.text())).toBe(withoutCsrf(await known.text()))
    expect(sent.map((mail) => mail.to)).toEqual(['known@example.com'])
  })

  it('throttles per submitted address (429 with Retry-After), whether or not it exists', async () => {
    const through = gateway()
    const responses: Response[] = []
    for (let i = 0; i < 6; i++)
      responses.push(await forgot(through, 'flood@example.com', { 'cf-connecting-ip': `198.51.100.${i}` }))
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 429])
    expect(Number(responses[5]?.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('throttles per client address (an IPv6 /64)', async () => {
    const through = gateway([], { SETTINGS: { ...(env.SETTINGS as object), email: { per_ip_per_hour: 2 } } })
    const statuses: number[] = []
    for (let i = 1; i <= 3; i++)
      statuses.push(
        (await forgot(through, `ip${i}@example.com`, { 'cf-connecting-ip': `2001:db8:1:2::${i}` })).status,
      )
    expect(statuses).toEqual([200, 200, 429])
  })

  it('refuses the reset POST from another site (no CSRF token)', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    await userWithEmail('em-csrf', 'csrf@example.com')
    await forgot(through, 'csrf@example.com')
    const link = linkIn(sent[0]?.text ?? '', '/auth/reset-password')
    const response = await post(
      through,
      '/auth/reset-password',
      { token: link.searchParams.get('token') ?? '', password: NEW_PASSWORD },
      '',
      {
        origin: 'https://evil.example',
      },
    )
    expect(response.status).toBe(403)
    // Not spent: the real page still takes it.
    expect((await resetWith(through, link)).response.status).toBe(303)
  })

  it('keeps the password policy (a short password keeps the link alive)', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    await userWithEmail('em-policy', 'policy@example.com')
    await forgot(through, 'policy@example.com')
    const link = linkIn(sent[0]?.text ?? '', '/auth/reset-password')
    expect((await resetWith(through, link, 'short')).response.status).toBe(400)
    const done = await resetWith(through, link)
    expect(done.response.status).toBe(303)
    // Signed in by the reset, and the account page says so (it said "a password").
    const session = done.response.headers
      .getSetCookie()
      .find((cookie) => cookie.startsWith('gw_session='))
      ?.split(';')[0]
    const page = await through('/auth/account', { headers: { cookie: session ?? '' } })
    expect(await page.text()).toContain('Signed in with a password reset link at')
  })

  it('does not skip a second factor: a user with mfa_enabled gets the second step, not a session', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const user = await userWithEmail('em-mfa', 'mfa@example.com')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    await forgot(through, 'mfa@example.com')
    const { response } = await resetWith(through, linkIn(sent[0]?.text ?? '', '/auth/reset-password'))
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toMatch(/^\/auth\/second-factor/)
    expect(setCookies(response).get('gw_session')?.value ?? '').toBe('')
    expect(setCookies(response).get('gw_pending')?.value).toBeTruthy()
  })
})

describe('tokens refused', () => {
  async function tokenFor(userId: string, purpose: 'password_reset' | 'verify_email', ttlSeconds = 600) {
    return issueLinkToken(env.DB, { userId, purpose, email: 'x@example.com', ttlSeconds })
  }

  it('refuses an expired token, a token of another purpose, and a token replaced by a newer one', async () => {
    const through = gateway()
    const user = await userWithEmail('em-neg', 'neg@example.com')
    const expired = await tokenFor(user.id, 'password_reset')
    await env.DB.prepare('UPDATE email_tokens SET expires_at = 1 WHERE user_id = ?1').bind(user.id).run()
    expect((await through(`/auth/reset-password?token=${expired}`)).status).toBe(400)

    const verify = await tokenFor(user.id, 'verify_email')
    expect((await through(`/auth/reset-password?token=${verify}`)).status).toBe(400)

    const first = await tokenFor(user.id, 'password_reset')
    const second = await tokenFor(user.id, 'password_reset')
    expect((await through(`/auth/reset-password?token=${first}`)).status).toBe(400)
    expect((await through(`/auth/reset-password?token=${second}`)).status).toBe(200)
  })

  it("a token names its own user: another user's token resets only that user", async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    await userWithEmail('em-alice', 'alice@example.com')
    await userWithEmail('em-bob', 'bob@example.com')
    await forgot(through, 'bob@example.com')
    const link = linkIn(sent[0]?.text ?? '', '/auth/reset-password')
    const page = await openForm(through, `${link.pathname}${link.search}`)
    expect(page.html).toContain('em-bob')
    expect(page.html).not.toContain('em-alice')
  })
})

describe('verify email', () => {
  it('confirms an address only on the POST of the page the link opens, once', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const user = await userWithEmail('em-verify', 'verify@example.com', false)
    const token = await issueLinkToken(env.DB, {
      userId: user.id,
      purpose: 'verify_email',
      email: 'verify@example.com',
      ttlSeconds: 600,
    })
    const path = `/auth/verify-email?token=${token}`
    const page = await openForm(through, path)
    expect(page.html).toContain('em-verify')
    const verifiedAfterGet = await env.DB.prepare('SELECT email_verified FROM users WHERE id = ?1')
      .bind(user.id)
      .first('email_verified')
    expect(verifiedAfterGet).toBe(0)
    const done = await post(through, '/auth/verify-email', { csrf: page.csrf, token }, page.cookie)
    expect(done.status).toBe(200)
    expect(
      await env.DB.prepare('SELECT email_verified FROM users WHERE id = ?1')
        .bind(user.id)
        .first('email_verified'),
    ).toBe(1)
    expect((await post(through, '/auth/verify-email', { csrf: page.csrf, token }, page.cookie)).status).toBe(
      400,
    )
  })

  it('leaves an unconfirmed address change without effect', async () => {
    const user = await userWithEmail('em-change', 'old@example.com')
    await issueLinkToken(env.DB, {
      userId: user.id,
      purpose: 'email_change',
      email: 'new@example.com',
      ttlSeconds: 600,
    })
    expect(await env.DB.prepare('SELECT email FROM users WHERE id = ?1').bind(user.id).first('email')).toBe(
      'old@example.com',
    )
  })
})

describe('registration with an address', () => {
  async function register(through: Through, username: string, email: string) {
    return through('/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD, email }),
    })
  }

  it('answers a taken address as a free one (201, same shape) and mails its holder instead of the caller', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const free = await register(through, 'em-reg-free', 'Free@Example.COM')
    await userWithEmail('em-holder', 'taken@example.com')
    const taken = await register(through, 'em-reg-taken', 'taken@example.com')
    expect(taken.status).toBe(free.status)
    expect(Object.keys((await taken.json()) as object)).toEqual(Object.keys((await free.json()) as object))
    expect(sent.map((mail) => [mail.to, mail.subject])).toEqual([
      ['Free@example.com', 'Confirm your email address for Edge Auth Gateway (local)'],
      ['taken@example.com', 'Someone tried to use your address at Edge Auth Gateway (local)'],
    ])
    const row = await env.DB.prepare("SELECT email FROM users WHERE username = 'em-reg-taken'").first('email')
    expect(row).toBeNull()
  })
})

describe('the dev mailbox', () => {
  it('is served only with DEV_MAILBOX=1 and a loopback ISSUER', async () => {
    expect((await gateway()('/dev/mailbox')).status).toBe(200)
    expect((await fetchWithEnv({ DEV_MAILBOX: '1' }, '/dev/mailbox')).status).toBe(404)
    expect((await fetchWithEnv({ ISSUER, DEV_MAILBOX: '0' }, '/dev/mailbox')).status).toBe(404)
  })
})
