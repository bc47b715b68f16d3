/**
 * A passkey as the second step (docs/passkeys-and-mfa.md): after a password sign-in of a user with
 * `mfa_enabled`, and to step a signed-in session up. The assertion must be of a passkey of the very
 * user at that step.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { PASSWORD } from '../../test/support/accounts'
import { GATEWAY, gatewayFetch } from '../../test/support/gateway'
import { Jar, pageFetch, userWithPasskey } from '../../test/support/passkeys'
import { openLoginForm } from '../../test/support/sessions'
import type { TestAuthenticator } from '../../test/support/webauthn'

/** The password form of a fresh browser for a user with a second factor: the pending sign-in. */
async function passwordStep(username: string): Promise<{ jar: Jar; csrf: string }> {
  const form = await openLoginForm()
  const jar = new Jar()
  jar.cookies.set(form.names.csrf, form.csrfCookie)
  const response = await gatewayFetch('/auth/login', {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      origin: GATEWAY,
      cookie: jar.header(),
    },
    body: new URLSearchParams({ username, password: PASSWORD, csrf: form.csrfField, return_to: '/app/x' }),
  })
  expect(response.headers.get('location')).toBe('/auth/second-factor')
  jar.take(response)
  return { jar, csrf: form.csrfField }
}

async function secondStep(
  jar: Jar,
  csrf: string,
  authenticator: TestAuthenticator,
  returnTo = '/app/x',
): Promise<Response> {
  const options = await pageFetch(jar, '/auth/passkeys/second-factor-options', {
    method: 'POST',
    body: { csrf, return_to: returnTo },
  })
  expect(options.status).toBe(200)
  const credential = await authenticator.assert(await options.json())
  return pageFetch(jar, '/auth/passkeys/second-factor', {
    method: 'POST',
    body: { csrf, return_to: returnTo, credential },
  })
}

async function sessionAmr(jar: Jar): Promise<string[]> {
  const me = await pageFetch(jar, '/auth/me')
  expect(me.status).toBe(200)
  const row = await env.DB.prepare(
    'SELECT amr FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1) AND ended_at IS NULL ORDER BY id DESC LIMIT 1',
  )
    .bind(((await me.json()) as { username: string }).username)
    .first<{ amr: string }>()
  return JSON.parse(row?.amr ?? '[]')
}

describe('a passkey as the second step', () => {
  it('finishes a password sign-in of a user with a second factor: session amr pwd + hwk, user, mfa', async () => {
    const user = await userWithPasskey('pk2-pending')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    const page = await passwordStep('pk2-pending')
    const html = await (
      await pageFetch(page.jar, '/auth/second-factor', { headers: { accept: 'text/html' } })
    ).text()
    expect(html).toContain('data-finish="/auth/passkeys/second-factor"')
    const response = await secondStep(page.jar, page.csrf, user.authenticator)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ redirect: '/app/x' })
    expect(await sessionAmr(page.jar)).toEqual(['pwd', 'hwk', 'user', 'mfa'])
  })

  it("refuses another user's passkey at someone's second step, audited, and starts no session", async () => {
    const victim = await userWithPasskey('pk2-victim')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(victim.id).run()
    const attacker = await userWithPasskey('pk2-attacker')
    const page = await passwordStep('pk2-victim')
    const response = await secondStep(page.jar, page.csrf, attacker.authenticator)
    expect(response.status).toBe(401)
    expect(page.jar.cookies.get('gw_session')).toBeUndefined()
    expect((await pageFetch(page.jar, '/auth/me')).status).toBe(401)
  })

  it('refuses without the CSRF token of the step', async () => {
    const user = await userWithPasskey('pk2-csrf')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    const page = await passwordStep('pk2-csrf')
    const options = await pageFetch(page.jar, '/auth/passkeys/second-factor-options', {
      method: 'POST',
      body: { csrf: 'not-the-token' },
    })
    expect(options.status).toBe(403)
  })

  it('steps a password session up and replaces it (a new cookie)', async () => {
    const user = await userWithPasskey('pk2-stepup')
    const before = user.jar.cookies.get('gw_session')
    const csrf = user.jar.cookies.get('gw_csrf') ?? ''
    const response = await secondStep(user.jar, csrf, user.authenticator, '/app/vault')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ redirect: '/app/vault' })
    expect(user.jar.cookies.get('gw_session')).not.toBe(before)
    expect(await sessionAmr(user.jar)).toEqual(['pwd', 'hwk', 'user', 'mfa'])
  })
})

describe('deleting the last factor of the second step', () => {
  it('turns the second step off, so a password sign-in is not left waiting for a factor that is gone', async () => {
    const user = await userWithPasskey('pk2-last')
    await env.DB.prepare('UPDATE users SET mfa_enabled = 1 WHERE id = ?1').bind(user.id).run()
    const deleted = await pageFetch(user.jar, `/auth/passkeys/${user.passkeyId}`, {
      method: 'DELETE',
      headers: { 'x-csrf-token': user.jar.cookies.get('gw_csrf') ?? '' },
    })
    expect(deleted.status).toBe(204)
    const row = await env.DB.prepare('SELECT mfa_enabled FROM users WHERE id = ?1')
      .bind(user.id)
      .first<{ mfa_enabled: number }>()
    expect(row?.mfa_enabled).toBe(0)
  })
})
