/**
 * Open sign-up is a local-development convenience, not a shipped default: wrangler.toml keeps
 * SETTINGS.registration off, and only the REGISTRATION var (which `npm start` puts in .dev.vars)
 * turns it on. These run the Worker with the shipped wrangler.toml vars and REGISTRATION replaced.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { PASSWORD } from '../../test/support/accounts'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { parseConfig } from '../config/load'
import type { Env } from '../env'
import { findUserByUsername } from '../users/store'

function register(overrides: Partial<Env>, username: string, headers: Record<string, string> = {}) {
  return fetchWithEnv(overrides, '/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
}

describe('registration as shipped (wrangler.toml, no REGISTRATION var)', () => {
  it('ships SETTINGS.registration = false, so a deploy as shipped has sign-up closed', () => {
    expect((env.SETTINGS as Record<string, unknown>).registration).toBe(false)
  })

  it('refuses a stranger signing up with 403 registration_disabled and creates nothing', async () => {
    const response = await register({ REGISTRATION: undefined }, 'reg-shipped')
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'registration_disabled' })
    expect(await findUserByUsername(env.DB, 'reg-shipped')).toBeUndefined()
  })
})

describe('the REGISTRATION var overrides SETTINGS.registration', () => {
  it('REGISTRATION=on (what npm start writes to .dev.vars) opens sign-up', async () => {
    const response = await register({ REGISTRATION: 'on' }, 'reg-local')
    expect(response.status).toBe(201)
    expect(await findUserByUsername(env.DB, 'reg-local')).toBeDefined()
  })

  it('REGISTRATION=off closes sign-up even when SETTINGS.registration is true', async () => {
    const settings = { ...(env.SETTINGS as Record<string, unknown>), registration: true }
    const response = await register({ SETTINGS: settings, REGISTRATION: 'off' }, 'reg-forced-off')
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'registration_disabled' })
    expect(await findUserByUsername(env.DB, 'reg-forced-off')).toBeUndefined()
  })

  it.each(['bogus', 'yes', 'true', 'ON', ''])(
    'a value that is neither "on" nor "off" (%j) is a configuration problem, not a guess',
    (value) => {
      const result = parseConfig({ ...env, REGISTRATION: value })
      expect(result.ok ? [] : result.problems).toEqual([
        'REGISTRATION: must be "on" or "off" (or unset to use SETTINGS.registration)',
      ])
    },
  )

  it('REGISTRATION=bogus fails closed: 503 gateway_misconfigured on register and on proxied routes', async () => {
    const response = await register({ REGISTRATION: 'bogus' }, 'reg-bogus')
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'gateway_misconfigured' })
    expect(await findUserByUsername(env.DB, 'reg-bogus')).toBeUndefined()
    const id = testId()
    const proxied = await fetchWithEnv({ REGISTRATION: 'bogus' }, '/api/public/x', {
      headers: { 'x-test-id': id },
    })
    expect(proxied.status).toBe(503)
    expect(await upstreamReceived(id)).toEqual([])
  })
})
