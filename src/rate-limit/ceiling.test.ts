import { env } from 'cloudflare:test'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createUser, PASSWORD } from '../../test/support/accounts'
import { attackerKeyPair, signCompact } from '../../test/support/forge'
import { fetchWithEnv } from '../../test/support/gateway'
import { bindingOf, exhaust, fillFor, freshWindow } from '../../test/support/rate-limit'
import { browserLogin, setCookies } from '../../test/support/sessions'
import { RATE_LIMIT_CLASSES } from './classes'

// A flood from many addresses and many names trips no per-key limit; the global ceiling on
// password evaluations does. Every test here runs with the ceiling full (filled through the
// binding before each), as during such a flood: unknown devices are refused before D1, known
// devices (a valid device cookie for the submitted name) and refresh tokens are not.

const GATEWAY = 'http://gateway.test'

function freshIp(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2))
  return `203.0.${bytes[0]}.${bytes[1]}`
}

function tokenCall(fields: Record<string, string>, cookie?: string): Promise<Response> {
  return fetchWithEnv({}, '/auth/token', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'cf-connecting-ip': freshIp(),
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  })
}

function passwordGrant(username: string, password: string, cookie?: string): Promise<Response> {
  return tokenCall({ grant_type: 'password', username, password }, cookie)
}

/** The `gw_device=<jwt>` cookie a successful password grant set (plain-http ISSUER: no __Host-). */
function deviceCookieOf(response: Response): string {
  const value = setCookies(response).get('gw_device')?.value
  if (!value) throw new Error('no device cookie was set')
  return `gw_device=${value}`
}

/** The D1 throttle's row for a subject (null: never reached). */
function throttleRow(subject: string) {
  return env.DB.prepare('SELECT * FROM auth_failures WHERE subject = ?1').bind(subject).first()
}

let aliceDevice = ''
let bobDevice = ''
let aliceRefresh = ''

beforeAll(async () => {
  await createUser('ceil-alice')
  await createUser('ceil-bob')
  // Before the flood: each signed in once from their own browser.
  const alice = await passwordGrant('ceil-alice', PASSWORD)
  expect(alice.status).toBe(200)
  aliceDevice = deviceCookieOf(alice)
  aliceRefresh = ((await alice.json()) as { refresh_token: string }).refresh_token
  bobDevice = deviceCookieOf(await passwordGrant('ceil-bob', PASSWORD))
})

beforeEach(async () => {
  await freshWindow(10)
  await exhaust(bindingOf('ceiling'), 'all')
})

describe('the global ceiling on password evaluations (a flood of many addresses and many names)', () => {
  it('refuses an unknown device with 429 and Retry-After, before D1, whatever the name and address', async () => {
    const alice = await throttleRow('account:ceil-alice')
    for (const name of ['ceil-alice', 'ceil-nobody-1', 'ceil-nobody-2']) {
      const response = await passwordGrant(name, 'Summer2026!')
      expect(response.status).toBe(429)
      expect(response.headers.get('retry-after')).toBe(String(RATE_LIMIT_CLASSES.ceiling.period))
    }
    expect(await throttleRow('account:ceil-nobody-1')).toBeNull()
    expect(await throttleRow('account:ceil-nobody-2')).toBeNull()
    expect(await throttleRow('account:ceil-alice')).toEqual(alice)
  })

  it('lets a known device of the user through, and renews its cookie', async () => {
    const response = await passwordGrant('CEIL-Alice', PASSWORD, aliceDevice)
    expect(response.status).toBe(200)
    const renewed = setCookies(response).get('gw_device')
    expect(renewed?.attributes).toMatch(/HttpOnly/i)
    expect(renewed?.attributes).toMatch(/SameSite=Strict/i)
    expect(renewed?.attributes).toMatch(/Max-Age=15552000/)
  })

  it('lets a known device through the per-account limit too (no targeted lockout by name)', async () => {
    await fillFor({ kind: 'password', username: 'ceil-alice' }, 'account')
    expect((await passwordGrant('ceil-alice', 'a wrong guess', freshIp())).status).toBe(429)
    expect((await passwordGrant('ceil-alice', PASSWORD, aliceDevice)).status).toBe(200)
  })

  it('caps a known device by its own binding (Retry-After: its 60 s period)', async () => {
    // Bob's device: its counter stays full for the rest of the minute.
    await freshWindow(60)
    await exhaust(bindingOf('ceiling'), 'all')
    await exhaust(bindingOf('device'), decodeDeviceId(bobDevice))
    const response = await passwordGrant('ceil-bob', PASSWORD, bobDevice)
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('60')
  })

  it("refuses another user's device cookie: the cookie is bound to the name it was set for", async () => {
    expect((await passwordGrant('ceil-alice', PASSWORD, bobDevice)).status).toBe(429)
  })

  it('refuses a forged device cookie: another key, another token type, a changed name, a broken signature', async () => {
    const now = Math.floor(Date.now() / 1000)
    const claims = {
      iss: GATEWAY,
      aud: `${GATEWAY}/auth/device`,
      sub: 'ceil-alice',
      jti: 'AAAAAAAAAAAAAAAAAAAAAA',
      iat: now,
      exp: now + 3600,
    }
    const attacker = await attackerKeyPair()
    const forged = [
      await signCompact(
        claims,
        { alg: 'ES256', kid: 'test-key-1', typ: 'gw-device+jwt' },
        attacker.privateKey,
      ),
      await signCompact(claims, { alg: 'ES256', kid: 'test-key-1', typ: 'JWT' }),
      await signCompact(claims, { alg: 'ES256', kid: 'test-key-1', typ: 'gw-pending-sign-in+jwt' }),
      `${bobDevice.slice('gw_device='.length).split('.')[0]}.${btoa(JSON.stringify(claims)).replace(/=+$/, '')}.${bobDevice.split('.')[2]}`,
    ]
    for (const jwt of forged) {
      expect((await passwordGrant('ceil-alice', PASSWORD, `gw_device=${jwt}`)).status).toBe(429)
    }
    // A validly signed cookie of the right type for this name is accepted: the refusals above were
    // the key, the type and the signature, not the shape.
    const valid = await signCompact(claims, { alg: 'ES256', kid: 'test-key-1', typ: 'gw-device+jwt' })
    expect((await passwordGrant('ceil-alice', PASSWORD, `gw_device=${valid}`)).status).toBe(200)
  })

  it('does not count refresh: a refresh token is redeemed while the ceiling is full', async () => {
    const response = await tokenCall({ grant_type: 'refresh_token', refresh_token: aliceRefresh })
    expect(response.status).toBe(200)
    aliceRefresh = ((await response.json()) as { refresh_token: string }).refresh_token
  })

  it('the login form: a known device signs in (303), an unknown one gets the 429 page', async () => {
    const through = (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers)
      headers.set('cf-connecting-ip', freshIp())
      return fetchWithEnv({}, path, { ...init, headers })
    }
    const unknown = await browserLogin('ceil-alice', { through })
    expect(unknown.response.status).toBe(429)
    expect(unknown.response.headers.get('retry-after')).toBe('10')
    const known = await browserLogin('ceil-alice', { through, cookie: aliceDevice })
    expect(known.response.status).toBe(303)
    expect(known.session).not.toBe('')
    expect(setCookies(known.response).get('gw_device')?.value).toBeTruthy()
  })

  it('a registration counts in the ceiling (it hashes a password)', async () => {
    const response = await fetchWithEnv({}, '/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshIp() },
      body: JSON.stringify({ username: 'ceil-new', password: 'a long enough passphrase 24' }),
    })
    expect(response.status).toBe(429)
  })
})

/** The device id (jti) inside a `gw_device=<jwt>` cookie. */
function decodeDeviceId(cookie: string): string {
  const payload = cookie.slice('gw_device='.length).split('.')[1] ?? ''
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
  return (JSON.parse(json) as { jti: string }).jti
}
