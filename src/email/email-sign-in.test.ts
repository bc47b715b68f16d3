import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createCodeClient, pkcePair, REDIRECT } from '../../test/support/authorization-code'
import {
  gateway,
  ISSUER,
  linkIn,
  openForm,
  post,
  type Sent,
  type Through,
  userWithEmail,
  withEmailSettings,
  withoutCsrf,
} from '../../test/support/email'
import { fillFor, freshWindow } from '../../test/support/rate-limit'
import { setCookies } from '../../test/support/sessions'
import { issueLinkToken } from './token-store'

const BOTH_ON = withEmailSettings({ sign_in_link: true, sign_in_code: true })
const AUTHORIZE = '/auth/authorize?client_id=some-app&response_type=code&state=s1'

/** One browser: keeps the cookies the gateway sets, sends them back. */
class Browser {
  private jar = new Map<string, string>()
  constructor(readonly through: Through) {}

  get cookie(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  has(name: string): boolean {
    return this.jar.has(name)
  }

  private keep(response: Response): Response {
    for (const [name, { value, attributes }] of setCookies(response)) {
      if (value === '' || /max-age=0/i.test(attributes)) this.jar.delete(name)
      else this.jar.set(name, value)
    }
    return response
  }

  async open(path: string) {
    const response = this.keep(await this.through(path, { headers: { cookie: this.cookie } }))
    const html = await response.text()
    return { response, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '' }
  }

  async submit(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.keep(await post(this.through, path, fields, this.cookie, headers))
  }

  /** The login page's "email me" form, as a person would use it. */
  async ask(
    email: string,
    kind: 'link' | 'code',
    options: { returnTo?: string; headers?: Record<string, string> } = {},
  ) {
    const query = options.returnTo ? `?return_to=${encodeURIComponent(options.returnTo)}` : ''
    const login = await this.open(`/auth/login${query}`)
    const returnTo = /name="return_to" value="([^"]*)"/.exec(login.html)?.[1] ?? ''
    return this.submit(
      '/auth/email-sign-in',
      { csrf: login.csrf, email, kind, return_to: returnTo.replace(/&amp;/g, '&') },
      options.headers,
    )
  }

  /** Opens the link and presses the page's button. */
  async follow(link: URL) {
    const page = await this.open(`${link.pathname}${link.search}`)
    const fields: Record<string, string> = { csrf: page.csrf, token: link.searchParams.get('token') ?? '' }
    if (page.html.includes('name="other_browser"')) fields.other_browser = 'confirmed'
    return { page, response: await this.submit(link.pathname, fields) }
  }

  async enterCode(email: string, code: string, headers: Record<string, string> = {}) {
    const login = await this.open('/auth/login')
    return this.submit(
      '/auth/email-code',
      { csrf: login.csrf, email, code, return_to: '/auth/account' },
      headers,
    )
  }
}

function signedIn(response: Response): boolean {
  return (setCookies(response).get('gw_session')?.value ?? '') !== ''
}

function codeIn(mail: Sent | undefined): string {
  const code = /\b(\d{6})\b/.exec(mail?.subject ?? '')?.[1]
  if (!code) throw new Error(`no code in: ${mail?.subject}`)
  return code
}

function setUp(settings: { SETTINGS: unknown } = BOTH_ON) {
  const sent: Sent[] = []
  const through = gateway(sent, settings)
  return { sent, through, browser: new Browser(through) }
}

describe('off unless enabled', () => {
  it('answers 404 on every endpoint, as an unknown path does, and the login page offers nothing', async () => {
    const through = gateway()
    const unknown = await through('/auth/no-such-page')
    const form = await openForm(through, '/auth/login')
    expect(form.html).not.toContain('Email me')
    const answers = [
      await post(
        through,
        '/auth/email-sign-in',
        { csrf: form.csrf, email: 'a@example.com', kind: 'link' },
        form.cookie,
      ),
      await post(
        through,
        '/auth/email-sign-in',
        { csrf: form.csrf, email: 'a@example.com', kind: 'code' },
        form.cookie,
      ),
      await through('/auth/sign-in-link?token=em_x'),
      await post(through, '/auth/sign-in-link', { csrf: form.csrf, token: 'em_x' }, form.cookie),
      await post(
        through,
        '/auth/email-code',
        { csrf: form.csrf, email: 'a@example.com', code: '123456' },
        form.cookie,
      ),
    ]
    expect(answers.map((response) => response.status)).toEqual([404, 404, 404, 404, 404])
    expect(unknown.status).toBe(404)
  })

  it('offers only what is on: with the link alone, no code button and the code endpoints 404', async () => {
    const through = gateway([], withEmailSettings({ sign_in_link: true }))
    const form = await openForm(through, '/auth/login')
    expect(form.html).toContain('Email me a sign-in link')
    expect(form.html).not.toContain('Email me a code')
    const code = await post(
      through,
      '/auth/email-sign-in',
      { csrf: form.csrf, email: 'a@example.com', kind: 'code' },
      form.cookie,
    )
    expect(code.status).toBe(404)
    expect(
      (
        await post(
          through,
          '/auth/email-code',
          { csrf: form.csrf, email: 'a@example.com', code: '1' },
          form.cookie,
        )
      ).status,
    ).toBe(404)
  })
})

describe('asking for a link or a code', () => {
  it('answers an unknown, an unverified and a known address alike (status, body) and mails only the verified one', async () => {
    const { sent, through } = setUp()
    await userWithEmail('es-known', 'known@example.com')
    await userWithEmail('es-unverified', 'unverified@example.com', false)
    for (const kind of ['link', 'code'] as const) {
      const answers = []
      for (const email of ['known@example.com', 'nobody@example.com', 'unverified@example.com']) {
        const response = await new Browser(through).ask(email, kind)
        answers.push({
          status: response.status,
          body: withoutCsrf(await response.text()).replaceAll(email, ''),
        })
      }
      expect(answers[1]).toEqual(answers[0])
      expect(answers[2]).toEqual(answers[0])
      expect(answers[0]?.status).toBe(200)
    }
    expect(sent.map((mail) => mail.to)).toEqual(['known@example.com', 'known@example.com'])
  })

  it('records sign_in_link_sent with the kind and whether the address is known, never the token or code', async () => {
    const { sent, browser } = setUp()
    const user = await userWithEmail('es-audit', 'audit@example.com')
    const since = Date.now()
    await browser.ask('audit@example.com', 'code')
    await browser.ask('stranger@example.com', 'link')
    const rows = await env.DB.prepare(
      "SELECT subject_id, details FROM audit_events WHERE type = 'sign_in_link_sent' AND at_ms >= ?1 ORDER BY id",
    )
      .bind(since)
      .all<{ subject_id: string | null; details: string }>()
    expect(rows.results.map((row) => [row.subject_id, JSON.parse(row.details)])).toEqual([
      [user.id, { kind: 'code', known: true }],
      [null, { kind: 'link', known: false }],
    ])
    expect(JSON.stringify(rows.results)).not.toContain(codeIn(sent[0]))
  })

  it('throttles per submitted address (429 with Retry-After), whether or not it exists', async () => {
    const { through } = setUp()
    const statuses: number[] = []
    let last: Response | undefined
    for (let i = 0; i < 6; i++) {
      last = await new Browser(through).ask('flood@example.com', i % 2 ? 'code' : 'link', {
        headers: { 'cf-connecting-ip': `198.51.100.${i}` },
      })
      statuses.push(last.status)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('refuses a request from another site (no CSRF token) and mails nothing', async () => {
    const { sent, through } = setUp()
    await userWithEmail('es-csrf', 'csrf@example.com')
    const response = await post(
      through,
      '/auth/email-sign-in',
      { email: 'csrf@example.com', kind: 'link' },
      '',
      {
        origin: 'https://evil.example',
      },
    )
    expect(response.status).toBe(403)
    expect(sent).toHaveLength(0)
  })
})

describe('the sign-in link', () => {
  it('is built from ISSUER (Host: evil.example), opens without being spent, signs in once and returns to the authorization request', async () => {
    const { sent, browser } = setUp()
    await userWithEmail('es-link', 'link@example.com')
    const asked = await browser.ask('link@example.com', 'link', {
      returnTo: AUTHORIZE,
      headers: { host: 'evil.example' },
    })
    expect(asked.status).toBe(200)
    expect(browser.has('gw_email_link')).toBe(true)
    const link = linkIn(sent[0]?.text ?? '', '/auth/sign-in-link')
    expect(link.origin).toBe(ISSUER)

    // Mail scanners: GET twice, still good.
    for (let i = 0; i < 2; i++) {
      const page = await browser.open(`${link.pathname}${link.search}`)
      expect(page.response.status).toBe(200)
      expect(page.response.headers.get('referrer-policy')).toBe('no-referrer')
      expect(page.html).toContain('Sign in as <span id="link-account">es-link</span>')
      expect(page.html).not.toContain('another browser')
    }
    const { response } = await browser.follow(link)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(AUTHORIZE)
    expect(signedIn(response)).toBe(true)
    expect((await browser.open('/auth/account')).html).toContain('Signed in with a link sent by email at')

    const again = await new Browser(browser.through).follow(link)
    expect(again.page.response.status).toBe(400)
    expect(again.response.status).toBe(400)
    expect(signedIn(again.response)).toBe(false)
  })

  it('asks "Sign in here anyway?" in a browser without the asking one\'s cookie, and signs in only once that is answered', async () => {
    const { sent, through, browser } = setUp()
    await userWithEmail('es-other', 'other@example.com')
    await browser.ask('other@example.com', 'link')
    const link = linkIn(sent[0]?.text ?? '', '/auth/sign-in-link')
    const token = link.searchParams.get('token') ?? ''

    const elsewhere = new Browser(through)
    const page = await elsewhere.open(`${link.pathname}${link.search}`)
    expect(page.html).toContain('This link was requested in another browser. Sign in here anyway?')
    expect(page.html).toContain('es-other')

    // A POST that never showed the question (an attacker's auto-submitting form cannot pass CSRF;
    // this is the gateway's own form without the answer) gets the question, and the token lives.
    const unanswered = await elsewhere.submit('/auth/sign-in-link', { csrf: page.csrf, token })
    expect(unanswered.status).toBe(200)
    expect(signedIn(unanswered)).toBe(false)
    expect(await unanswered.text()).toContain('Sign in here anyway?')

    const answered = await elsewhere.submit('/auth/sign-in-link', {
      csrf: page.csrf,
      token,
      other_browser: 'confirmed',
    })
    expect(answered.status).toBe(303)
    expect(signedIn(answered)).toBe(true)
  })

  it('does not skip a second factor: a user with mfa_enabled gets the second step, not a session', async () => {
    const { sent, browser } = setUp()
    const user = await userWithEmail('es-mfa-link', 'mfa-link@example.com')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    await browser.ask('mfa-link@example.com', 'link')
    const { response } = await browser.follow(linkIn(sent[0]?.text ?? '', '/auth/sign-in-link'))
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/second-factor')
    expect(signedIn(response)).toBe(false)
    expect(setCookies(response).get('gw_pending')?.value).toBeTruthy()
  })

  it('refuses an expired token, a password_reset token, and a token replaced by a newer one', async () => {
    const { through } = setUp()
    const user = await userWithEmail('es-neg', 'neg@example.com')
    const issue = (purpose: 'sign_in_link' | 'password_reset') =>
      issueLinkToken(env.DB, { userId: user.id, purpose, email: 'neg@example.com', ttlSeconds: 600 })
    const expired = await issue('sign_in_link')
    await env.DB.prepare(
      "UPDATE email_tokens SET expires_at = 1 WHERE user_id = ?1 AND purpose = 'sign_in_link'",
    )
      .bind(user.id)
      .run()
    expect((await through(`/auth/sign-in-link?token=${expired}`)).status).toBe(400)

    const reset = await issue('password_reset')
    const page = await openForm(through, `/auth/sign-in-link?token=${reset}`)
    expect(page.response.status).toBe(400)
    expect(page.html).toContain('id="link-dead"')
    const forced = await post(
      through,
      '/auth/sign-in-link',
      { csrf: page.csrf, token: reset, other_browser: 'confirmed' },
      page.cookie,
    )
    expect(forced.status).toBe(400)
    expect(signedIn(forced)).toBe(false)
    // The reset token is still good where it belongs.
    expect((await through(`/auth/reset-password?token=${reset}`)).status).toBe(200)

    const first = await issue('sign_in_link')
    const second = await issue('sign_in_link')
    expect((await through(`/auth/sign-in-link?token=${first}`)).status).toBe(400)
    expect((await through(`/auth/sign-in-link?token=${second}`)).status).toBe(200)
  })

  it("signs in as the token's own user only, and not once the address is no longer theirs", async () => {
    const { sent, browser } = setUp()
    await userWithEmail('es-alice', 'alice@example.com')
    const bob = await userWithEmail('es-bob', 'bob@example.com')
    await browser.ask('bob@example.com', 'link')
    const link = linkIn(sent[0]?.text ?? '', '/auth/sign-in-link')
    const page = await browser.open(`${link.pathname}${link.search}`)
    expect(page.html).toContain('es-bob')
    expect(page.html).not.toContain('es-alice')

    await env.DB.prepare("UPDATE users SET email = 'bob.new@example.com' WHERE id = ?1").bind(bob.id).run()
    expect((await browser.follow(link)).response.status).toBe(400)
  })

  it('refuses the POST from another site (no CSRF token) without spending the link', async () => {
    const { sent, through, browser } = setUp()
    await userWithEmail('es-link-csrf', 'link-csrf@example.com')
    await browser.ask('link-csrf@example.com', 'link')
    const link = linkIn(sent[0]?.text ?? '', '/auth/sign-in-link')
    const forged = await post(
      through,
      '/auth/sign-in-link',
      { token: link.searchParams.get('token') ?? '', other_browser: 'confirmed' },
      browser.cookie.replace(/gw_csrf=[^;]*;?\s*/, ''),
      { origin: 'https://evil.example' },
    )
    expect(forged.status).toBe(403)
    expect((await browser.follow(link)).response.status).toBe(303)
  })
})

describe('returning to an authorization request', () => {
  it("lets the code and link pages' forms lead on to the app (CSP form-action), as the login form does", async () => {
    await createCodeClient('es-app')
    const { challenge } = await pkcePair()
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'es-app',
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid',
      state: 'es-state',
    })
    const returnTo = `/auth/authorize?${query}`
    const { sent, browser } = setUp()
    await userWithEmail('es-app-user', 'app-user@example.com')
    const codeForm = await browser.ask('app-user@example.com', 'code', { returnTo })
    expect(codeForm.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://app.example;",
    )
    expect(await codeForm.text()).toContain(`name="return_to" value="${returnTo.replace(/&/g, '&amp;')}"`)

    await browser.ask('app-user@example.com', 'link', { returnTo })
    const link = linkIn(sent[1]?.text ?? '', '/auth/sign-in-link')
    const page = await browser.open(`${link.pathname}${link.search}`)
    expect(page.response.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://app.example;",
    )
    const { response } = await browser.follow(link)
    expect(response.headers.get('location')).toBe(returnTo)
  })
})

describe('the emailed code', () => {
  it('signs in with the right code once; a reused code fails like a wrong one or an unknown address', async () => {
    const { sent, browser } = setUp()
    await userWithEmail('es-code', 'code@example.com')
    const asked = await browser.ask('code@example.com', 'code')
    const form = await asked.text()
    expect(form).toContain('action="/auth/email-code"')
    expect(form).toContain('name="email" value="code@example.com"')
    const code = codeIn(sent[0])

    const right = await browser.enterCode('code@example.com', code)
    expect(right.status).toBe(303)
    expect(right.headers.get('location')).toBe('/auth/account')
    expect(signedIn(right)).toBe(true)
    // The account page says how this session began (it said "a password" for every email sign-in).
    expect((await browser.open('/auth/account')).html).toContain('Signed in with a code sent by email at')

    const reused = await new Browser(browser.through).enterCode('code@example.com', code)
    const unknown = await new Browser(browser.through).enterCode('nobody@example.com', code)
    expect(reused.status).toBe(401)
    expect(signedIn(reused)).toBe(false)
    expect(unknown.status).toBe(401)
    const body = (response: Response) =>
      response.text().then((html) => withoutCsrf(html).replace(/(code|nobody)@example\.com/g, ''))
    expect(await body(reused)).toBe(await body(unknown))
  })

  it('ends a code after code_max_attempts wrong tries: the right code then fails too', async () => {
    const { sent, browser } = setUp(withEmailSettings({ sign_in_code: true, code_max_attempts: 3 }))
    await userWithEmail('es-cap', 'cap@example.com')
    await browser.ask('cap@example.com', 'code')
    const code = codeIn(sent[0])
    const wrong = code === '000000' ? '000001' : '000000'
    for (let i = 0; i < 3; i++) expect((await browser.enterCode('cap@example.com', wrong)).status).toBe(401)
    const late = await browser.enterCode('cap@example.com', code)
    expect(late.status).toBe(401)
    expect(signedIn(late)).toBe(false)
  })

  it('lets a wrong try below the cap pass, and refuses an expired code', async () => {
    const { sent, browser } = setUp()
    const user = await userWithEmail('es-expiry', 'expiry@example.com')
    await browser.ask('expiry@example.com', 'code')
    const code = codeIn(sent[0])
    expect(
      (await browser.enterCode('expiry@example.com', code === '999999' ? '999998' : '999999')).status,
    ).toBe(401)
    await env.DB.prepare('UPDATE email_tokens SET expires_at = 1 WHERE user_id = ?1').bind(user.id).run()
    expect((await browser.enterCode('expiry@example.com', code)).status).toBe(401)

    await browser.ask('expiry@example.com', 'code')
    const fresh = codeIn(sent[1])
    expect(
      (await browser.enterCode('expiry@example.com', fresh === '999999' ? '999998' : '999999')).status,
    ).toBe(401)
    expect((await browser.enterCode('expiry@example.com', fresh)).status).toBe(303)
  })

  it('does not skip a second factor: a user with mfa_enabled gets the second step, not a session', async () => {
    const { sent, browser } = setUp()
    const user = await userWithEmail('es-mfa-code', 'mfa-code@example.com')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    await browser.ask('mfa-code@example.com', 'code')
    const response = await browser.enterCode('mfa-code@example.com', codeIn(sent[0]))
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/second-factor')
    expect(signedIn(response)).toBe(false)
    expect(setCookies(response).get('gw_pending')?.value).toBeTruthy()
  })

  it('throttles code checks per client address (an IPv6 /64) and per address: 429 with Retry-After', async () => {
    const { browser } = setUp(
      withEmailSettings({ sign_in_code: true, per_ip_per_hour: 1, code_max_attempts: 2 }),
    )
    const ip = (n: number) => ({ 'cf-connecting-ip': `2001:db8:5:6::${n}` })
    const statuses = []
    for (let i = 1; i <= 3; i++)
      statuses.push((await browser.enterCode(`guess${i}@example.com`, '123456', ip(i))).status)
    expect(statuses).toEqual([401, 401, 429])

    const { browser: other } = setUp(
      withEmailSettings({ sign_in_code: true, per_address_per_hour: 1, code_max_attempts: 2 }),
    )
    const perAddress = []
    for (let i = 1; i <= 3; i++)
      perAddress.push(
        await other.enterCode('target@example.com', '123456', { 'cf-connecting-ip': `198.51.100.${i}` }),
      )
    expect(perAddress.map((response) => response.status)).toEqual([401, 401, 429])
    expect(Number(perAddress[2]?.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('asks the rate-limit binding first: a full address is refused (429) before D1 is touched', async () => {
    const { browser } = setUp(BOTH_ON)
    const ip = '203.0.113.77'
    await freshWindow(60)
    await fillFor({ kind: 'email', ip }, 'email')
    const asked = await browser.ask('bound@example.com', 'link', { headers: { 'cf-connecting-ip': ip } })
    expect(asked.status).toBe(429)
    expect(asked.headers.get('retry-after')).toBe('60')

    await freshWindow(10)
    await fillFor({ kind: 'code', ip, subject: 'email:bound@example.com' }, 'address')
    const checked = await browser.enterCode('bound@example.com', '123456', { 'cf-connecting-ip': ip })
    expect(checked.status).toBe(429)
    const rows = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM auth_failures WHERE subject IN ('email-ip:' || ?1, 'email-code-ip:' || ?1)",
    )
      .bind(ip)
      .first<{ n: number }>()
    expect(rows?.n).toBe(0)
  })
})
