import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser, PASSWORD } from '../../test/support/accounts'
import { fetchWithEnv } from '../../test/support/gateway'
import { setCookies } from '../../test/support/sessions'
import { settingsSchema } from '../config/schema'

// The device cookie in the D1 layer behind the bindings: a known device's attempts count under the
// device, not the account, so wrong passwords for a chosen user from elsewhere lock the account
// exactly as before (users/throttle.test.ts) but not that user's own browsers, and a known
// device's own wrong passwords are counted exactly too.

const SETTINGS = settingsSchema.parse(env.SETTINGS ?? {})
const BACKOFF_AFTER = SETTINGS.throttle.account_backoff_after
// A backoff no slow test machine can outlast between two requests.
const SLOW_BACKOFF = {
  ...(env.SETTINGS as Record<string, unknown>),
  throttle: { ...SETTINGS.throttle, account_backoff_base_seconds: 60 },
}

function passwordGrant(username: string, password: string, cookie?: string): Promise<Response> {
  return fetchWithEnv({ SETTINGS: SLOW_BACKOFF }, '/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  })
}

async function signedInDevice(username: string): Promise<string> {
  const response = await passwordGrant(username, PASSWORD)
  expect(response.status).toBe(200)
  const value = setCookies(response).get('gw_device')?.value
  expect(value).toBeTruthy()
  return `gw_device=${value}`
}

function deviceId(cookie: string): string {
  const payload = cookie.split('.')[1] ?? ''
  return (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { jti: string }).jti
}

function failuresRow(subject: string) {
  return env.DB.prepare('SELECT consecutive_failures, locked_until FROM auth_failures WHERE subject = ?1')
    .bind(subject)
    .first<{ consecutive_failures: number; locked_until: number }>()
}

describe('the device cookie and the D1 account lockout (targeted lockout)', () => {
  it('sets no device cookie after a wrong password', async () => {
    await createUser('dc-wrong')
    const response = await passwordGrant('dc-wrong', 'not the password')
    expect(response.status).toBe(400)
    expect(setCookies(response).has('gw_device')).toBe(false)
  })

  it("wrong passwords from elsewhere lock the account exactly, but not the user's known device", async () => {
    await createUser('dc-target')
    const device = await signedInDevice('dc-target')
    for (let i = 0; i < BACKOFF_AFTER; i++)
      expect((await passwordGrant('dc-target', `attacker guess ${i}`)).status).toBe(400)
    // The account is locked for every unknown device, the right password included (as before).
    expect((await passwordGrant('dc-target', PASSWORD)).status).toBe(429)
    expect((await failuresRow('account:dc-target'))?.consecutive_failures).toBe(BACKOFF_AFTER)
    // The user's own browser still signs in.
    expect((await passwordGrant('dc-target', PASSWORD, device)).status).toBe(200)
  })

  it("a known device's own wrong passwords lock that device exactly after the backoff threshold", async () => {
    await createUser('dc-own')
    const device = await signedInDevice('dc-own')
    for (let i = 0; i < BACKOFF_AFTER; i++)
      expect((await passwordGrant('dc-own', `stolen cookie guess ${i}`, device)).status).toBe(400)
    const locked = await passwordGrant('dc-own', PASSWORD, device)
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await failuresRow(`device:${deviceId(device)}`))?.consecutive_failures).toBe(BACKOFF_AFTER)
    // The device's failures are its own: the account (other devices) is not locked by them.
    expect((await failuresRow('account:dc-own'))?.consecutive_failures ?? 0).toBe(0)
    expect((await passwordGrant('dc-own', PASSWORD)).status).toBe(200)
  })
})
