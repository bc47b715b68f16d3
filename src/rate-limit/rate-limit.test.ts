import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createUser, PASSWORD, tokenRequest } from '../../test/support/accounts'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { bindingOf, exhaust, fillFor, freshWindow } from '../../test/support/rate-limit'
import { answer, currentStep, enrolNewUser, passwordStep, totpCode } from '../../test/support/second-factor'
import { setCookies } from '../../test/support/sessions'
import { RATE_LIMIT_CLASSES, type RateLimitClassName } from './classes'
import { type RateLimitedAction, rateLimitChecks } from './limit'

// The first line against floods (docs/rate-limiting.md), against the binding as the vitest pool
// simulates it from wrangler.toml. A counter is filled through the binding itself (cheap: no
// password derivation), then one request shows the gateway's answer: 429 with Retry-After, and no
// D1 throttle row (the request never reached D1). The D1 layer behind: src/users/throttle*.test.ts.

/** A client address no other test uses (the simulator's counters live for the file's run). */
function freshIp(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2))
  return `203.0.${bytes[0]}.${bytes[1]}`
}

function passwordGrant(
  username: string,
  password: string,
  ip: string,
  overrides: Record<string, unknown> = {},
) {
  return fetchWithEnv(overrides, '/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  })
}

/** How many auth_failures rows (the D1 throttle) exist for these subjects. */
async function throttleRows(...subjects: string[]): Promise<number> {
  const marks = subjects.map((_, index) => `?${index + 1}`).join(', ')
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM auth_failures WHERE subject IN (${marks})`)
    .bind(...subjects)
    .first<{ n: number }>()
  return row?.n ?? 0
}

async function expectRefused(response: Response, name: RateLimitClassName): Promise<void> {
  expect(response.status).toBe(429)
  expect(response.headers.get('retry-after')).toBe(String(RATE_LIMIT_CLASSES[name].period))
  expect(await response.json()).toMatchObject({ error: 'rate_limited' })
}

describe('the vitest pool gets the [[ratelimits]] bindings of wrangler.toml, simulated', () => {
  it.each(Object.keys(RATE_LIMIT_CLASSES) as RateLimitClassName[])(
    '%s: admits exactly the limit documented in classes.ts per key and period, then refuses',
    async (name) => {
      const { period, limit } = RATE_LIMIT_CLASSES[name]
      await freshWindow(period)
      expect(await exhaust(bindingOf(name), `probe:${testId()}`)).toBe(limit)
    },
  )
})

describe('per client address (a password spray from one address)', () => {
  it('refuses a password attempt from a full address with 429 and Retry-After, before D1', async () => {
    await createUser('rl-addr')
    const ip = freshIp()
    await freshWindow(10)
    await fillFor({ kind: 'password', ip, username: 'rl-addr' }, 'address')
    await expectRefused(await passwordGrant('rl-addr', PASSWORD, ip), 'address')
    expect(await throttleRows(`ip:${ip}`, 'account:rl-addr')).toBe(0)
    // Another address is not affected.
    expect((await passwordGrant('rl-addr', PASSWORD, freshIp())).status).toBe(200)
  })

  it('IPv6: every address of one /64, spelled any way, shares the key; another /64 does not', async () => {
    await createUser('rl-v6')
    await freshWindow(10)
    await fillFor({ kind: 'password', ip: '2001:db8:24:7::1', username: 'x' }, 'address')
    await expectRefused(await passwordGrant('rl-v6', PASSWORD, '2001:DB8:24:7:ffff:1:2:3'), 'address')
    await expectRefused(await passwordGrant('rl-v6', PASSWORD, '2001:0db8:0024:0007::9'), 'address')
    expect((await passwordGrant('rl-v6', PASSWORD, '2001:db8:24:8::1')).status).toBe(200)
  })

  it('an IPv4-mapped IPv6 address (::ffff:a.b.c.d) shares the key of a.b.c.d', async () => {
    await createUser('rl-mapped')
    const ip = freshIp()
    await freshWindow(10)
    await fillFor({ kind: 'password', ip, username: 'x' }, 'address')
    await expectRefused(await passwordGrant('rl-mapped', PASSWORD, `::ffff:${ip}`), 'address')
    expect(await throttleRows(`ip:${ip}`)).toBe(0)
  })
})

describe('per submitted account name (a flood of guesses at one account from many addresses)', () => {
  it('refuses the name from any address, in any letter case, before D1', async () => {
    await createUser('rl-victim')
    await freshWindow(10)
    await fillFor({ kind: 'password', username: 'RL-Victim' }, 'account')
    await expectRefused(await passwordGrant('rl-victim', PASSWORD, freshIp()), 'account')
    await expectRefused(await passwordGrant('rl-victim', 'a guess', freshIp()), 'account')
    expect(await throttleRows('account:rl-victim')).toBe(0)
  })

  it('keys carry no submitted name or email address (a password typed into the username field)', async () => {
    const actions: RateLimitedAction[] = [
      { kind: 'password', ip: '192.0.2.1', username: 'hunter2-typed-here' },
      { kind: 'email', ip: '192.0.2.1', email: 'someone@example.com' },
    ]
    for (const action of actions) {
      const keys = (await rateLimitChecks(action)).map(([, key]) => key).join(' ')
      expect(keys).not.toContain('hunter2')
      expect(keys).not.toContain('someone')
    }
  })

  it('Basic on a proxied route: a full name is 429 and nothing is forwarded or written', async () => {
    await createUser('rl-basic')
    const routes = [{ path: '/legacy', upstream: 'UPSTREAM_URL', credentials: ['basic'] }]
    const id = testId()
    await freshWindow(10)
    await fillFor({ kind: 'password', username: 'rl-basic' }, 'account')
    const response = await fetchWithEnv({ ROUTES: routes }, '/legacy/report', {
      headers: {
        authorization: `Basic ${btoa(`rl-basic:${PASSWORD}`)}`,
        'cf-connecting-ip': freshIp(),
        'x-test-id': id,
      },
    })
    await expectRefused(response, 'account')
    expect(await upstreamReceived(id)).toHaveLength(0)
    expect(await throttleRows('account:rl-basic')).toBe(0)
  })
})

describe('second-factor codes per user', () => {
  it('refuses a code for a full user with the step page, 429 and Retry-After, before D1', async () => {
    const enrolled = await enrolNewUser('rl-totp')
    const pending = await passwordStep('rl-totp')
    await freshWindow(10)
    await fillFor({ kind: 'code', subject: enrolled.userId }, 'account')
    const response = await answer(pending, { code: await totpCode(enrolled.secret, currentStep() + 1) })
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('10')
    expect(await response.text()).toContain('Too many attempts')
    // The enrolment's confirming code left the row; the refused attempt did not count in it.
    const row = await env.DB.prepare('SELECT consecutive_failures FROM auth_failures WHERE subject = ?1')
      .bind(`totp:${enrolled.userId}`)
      .first<{ consecutive_failures: number }>()
    expect(row?.consecutive_failures ?? 0).toBe(0)
  })
})

describe('the token endpoint per client address (code exchange, refresh)', () => {
  it('refuses every grant from a full address before the client or the token is looked up', async () => {
    const ip = freshIp()
    await freshWindow(10)
    await fillFor({ kind: 'token', ip }, 'token')
    const refresh = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: 'not-a-token' },
      { 'cf-connecting-ip': ip },
    )
    await expectRefused(refresh, 'token')
    const code = await tokenRequest(
      { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://app.test/cb', client_id: 'c' },
      { 'cf-connecting-ip': ip },
    )
    await expectRefused(code, 'token')
    // Another address gets the endpoint's own answer.
    const other = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: 'not-a-token' },
      { 'cf-connecting-ip': freshIp() },
    )
    expect(other.status).toBe(400)
  })
})

describe('registration and mail per client address', () => {
  it('refuses a registration from a full address before D1 (no register: row, no user)', async () => {
    const ip = freshIp()
    await freshWindow(60)
    await fillFor({ kind: 'registration', ip }, 'registration')
    const response = await fetchWithEnv({}, '/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
      body: JSON.stringify({ username: 'rl-registered', password: 'a long enough passphrase 24' }),
    })
    await expectRefused(response, 'registration')
    expect(await throttleRows(`register:${ip}`)).toBe(0)
    expect(await env.DB.prepare("SELECT id FROM users WHERE username = 'rl-registered'").first()).toBeNull()
  })

  it('refuses forgot-password from a full address with the page, 429 and Retry-After, before D1', async () => {
    const ip = freshIp()
    const form = await fetchWithEnv({}, '/auth/forgot-password')
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? ''
    const cookie = `gw_csrf=${setCookies(form).get('gw_csrf')?.value ?? ''}`
    await freshWindow(60)
    await fillFor({ kind: 'email', ip }, 'email')
    const response = await fetchWithEnv({}, '/auth/forgot-password', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://gateway.test',
        cookie,
        'cf-connecting-ip': ip,
      },
      body: new URLSearchParams({ csrf, email: 'rl@example.com' }).toString(),
    })
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('60')
    expect(await response.text()).toContain('Too many requests')
    expect(await throttleRows(`email-ip:${ip}`, 'email:rl@example.com')).toBe(0)
  })
})

describe('passkey sign-in', () => {
  it('refuses the options (a challenge write) and the assertion from a full address, before D1', async () => {
    const ip = freshIp()
    const login = await fetchWithEnv({}, '/auth/login')
    const csrf = /name="csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? ''
    const cookie = `gw_csrf=${setCookies(login).get('gw_csrf')?.value ?? ''}`
    const headers = {
      'content-type': 'application/json',
      origin: 'http://gateway.test',
      cookie,
      'cf-connecting-ip': ip,
    }
    const count = async () =>
      (await env.DB.prepare('SELECT COUNT(*) AS n FROM webauthn_challenges').first<{ n: number }>())?.n ?? 0
    const before = await count()
    await freshWindow(10)
    await fillFor({ kind: 'passkey', ip }, 'address')
    for (const path of ['/auth/passkeys/authentication-options', '/auth/passkeys/authentication']) {
      const response = await fetchWithEnv({}, path, {
        method: 'POST',
        headers,
        body: JSON.stringify({ csrf }),
      })
      await expectRefused(response, 'address')
    }
    expect(await count()).toBe(before)
    // Another address is not held back by that one.
    const other = await fetchWithEnv({}, '/auth/passkeys/authentication-options', {
      method: 'POST',
      headers: { ...headers, 'cf-connecting-ip': freshIp() },
      body: JSON.stringify({ csrf }),
    })
    expect(other.status).toBe(200)
  })
})

describe('the off switch and a missing binding', () => {
  afterEach(() => vi.restoreAllMocks())

  it('RATE_LIMITING = "off" asks no binding: a full address reaches D1 (the bench\'s run without the layer)', async () => {
    await createUser('rl-off')
    const ip = freshIp()
    await freshWindow(10)
    await fillFor({ kind: 'password', ip, username: 'rl-off' }, 'address')
    const response = await passwordGrant('rl-off', 'wrong guess', ip, { RATE_LIMITING: 'off' })
    expect(response.status).toBe(400)
    expect(await throttleRows(`ip:${ip}`, 'account:rl-off')).toBe(2)
  })

  it('a binding missing from env admits (fails open to D1) and logs it once per isolate', async () => {
    await createUser('rl-missing')
    const warn = vi.spyOn(console, 'warn')
    const missing = { RATE_LIMIT_ADDRESS: undefined }
    expect((await passwordGrant('rl-missing', PASSWORD, freshIp(), missing)).status).toBe(200)
    expect((await passwordGrant('rl-missing', PASSWORD, freshIp(), missing)).status).toBe(200)
    const lines = warn.mock.calls
      .map(([line]) => String(line))
      .filter((line) => line.includes('rate_limit_binding'))
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      event: 'rate_limit_binding_missing',
      binding: 'RATE_LIMIT_ADDRESS',
    })
  })

  it('refuses a RATE_LIMITING value other than "on" or "off" as a configuration problem', async () => {
    const response = await fetchWithEnv({ RATE_LIMITING: 'no' }, '/healthz')
    expect(response.status).toBe(503)
  })
})
