/** `[[vars.LOGIN_PROVIDERS]]` validation: every problem with its field, like the route table. */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { fetchWithEnv } from '../../test/support/gateway'
import { parseConfig } from '../config/load'
import type { Env } from '../env'

const OIDC = {
  name: 'google',
  display_name: 'Google',
  kind: 'oidc',
  issuer: 'https://accounts.google.com',
  client_id: 'id.apps.googleusercontent.com',
  client_secret_secret: 'GOOGLE_CLIENT_SECRET',
}
const GITHUB = {
  name: 'github',
  display_name: 'GitHub',
  kind: 'github',
  client_id: 'Iv1.abc',
  client_secret_secret: 'GITHUB_CLIENT_SECRET',
}

function problemsOf(providers: unknown): string[] {
  const result = parseConfig({ ...env, LOGIN_PROVIDERS: providers } as Env)
  return result.ok ? [] : result.problems
}

describe('LOGIN_PROVIDERS validation', () => {
  it('accepts Google-style OIDC and github.com with their defaults', () => {
    const result = parseConfig({ ...env, LOGIN_PROVIDERS: [OIDC, GITHUB] } as Env)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const github = result.config.loginProviders.get('github')
    expect(github?.kind === 'github' && github.token_url).toBe('https://github.com/login/oauth/access_token')
    expect(result.config.loginProviders.get('google')?.registration).toBe(false)
    expect(result.config.loginProviders.get('google')?.link_by_verified_email).toBe(false)
  })

  it('also accepts the list as JSON text (what `wrangler dev --var` passes)', () => {
    expect(problemsOf(JSON.stringify([OIDC]))).toEqual([])
    expect(problemsOf('[not json')).toEqual(['LOGIN_PROVIDERS: is a string but not valid JSON'])
  })

  it('reports each bad field with its path', () => {
    const problems = problemsOf([
      { ...OIDC, name: 'Google Login', issuer: 'http://accounts.example.com', scopes: ['email'] },
      { ...GITHUB, client_secret_secret: 'the secret itself', allowed_orgs: ['acme'] },
      { ...OIDC, kind: 'saml' },
    ])
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^LOGIN_PROVIDERS\[0\]\.name: must be URL-safe/),
        expect.stringMatching(/^LOGIN_PROVIDERS\[0\]\.issuer: must be an https URL/),
        expect.stringMatching(/^LOGIN_PROVIDERS\[0\]\.scopes: must include "openid"/),
        expect.stringMatching(/^LOGIN_PROVIDERS\[1\]\.client_secret_secret: must be a secret name/),
        expect.stringMatching(/^LOGIN_PROVIDERS\[2\]\.kind/),
      ]),
    )
  })

  it('refuses allowed_orgs without the read:org scope (the org check would always fail)', () => {
    expect(problemsOf([{ ...GITHUB, allowed_orgs: ['acme'] }])).toEqual([
      'LOGIN_PROVIDERS[0].scopes: must include "read:org" when allowed_orgs or role_map names organizations',
    ])
  })

  it('refuses two providers with one name', () => {
    expect(problemsOf([OIDC, { ...GITHUB, name: 'google' }])).toEqual([
      'LOGIN_PROVIDERS[1].name: "google" duplicates LOGIN_PROVIDERS[0]',
    ])
  })

  it('refuses link_by_verified_email while registration is open, naming the field and what opened it', () => {
    const reason =
      'anyone could sign up with the owner\'s address, and one careless "Confirm" on the mail that triggers ' +
      "would give that account the owner's later sign-ins (account pre-hijacking); " +
      'users link providers from /auth/identities instead'
    const linking = [OIDC, { ...GITHUB, link_by_verified_email: true }]
    // The tests run with REGISTRATION=on, as `npm start` sets it.
    expect(problemsOf(linking)).toEqual([
      `LOGIN_PROVIDERS[1].link_by_verified_email: must be false while registration is open (REGISTRATION = "on"): ${reason}`,
    ])
    const settings = { ...(env.SETTINGS as Record<string, unknown>), registration: true }
    const bySettings = parseConfig({
      ...env,
      REGISTRATION: undefined,
      SETTINGS: settings,
      LOGIN_PROVIDERS: linking,
    })
    expect(bySettings.ok ? [] : bySettings.problems).toEqual([
      `LOGIN_PROVIDERS[1].link_by_verified_email: must be false while registration is open (SETTINGS.registration = true): ${reason}`,
    ])
    // Sign-up closed: accepted (it then joins the holder of a verified address: docs/login-providers.md).
    expect(parseConfig({ ...env, REGISTRATION: 'off', LOGIN_PROVIDERS: linking } as Env).ok).toBe(true)
  })

  it('link_by_verified_email with open registration fails closed: 503 gateway_misconfigured', async () => {
    const response = await fetchWithEnv(
      { LOGIN_PROVIDERS: [{ ...OIDC, link_by_verified_email: true }] },
      '/auth/login',
    )
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'gateway_misconfigured' })
  })

  it('an invalid provider fails closed like any config problem: 503 gateway_misconfigured', async () => {
    const response = await fetchWithEnv(
      { LOGIN_PROVIDERS: [{ ...OIDC, client_secret: 'inline' }] },
      '/auth/login',
    )
    expect(response.status).toBe(503)
  })
})
