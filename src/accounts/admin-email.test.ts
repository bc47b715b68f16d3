/**
 * The admin API's part of the email feature (issue 23): PATCH /admin/users/{id} with `email` and
 * `email_verified`, and POST /admin/users/{id}/password-reset, through a gateway with a loopback
 * ISSUER and the mail binding recorded (test/support/email.ts).
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, PASSWORD } from '../../test/support/accounts'
import { gateway, linkIn, type Sent, type Through, userWithEmail } from '../../test/support/email'
import { issueLinkToken } from '../email/token-store'

/** An admin's access token from the same gateway (its issuer is the loopback ISSUER). */
async function adminOf(through: Through, name: string): Promise<string> {
  await createUser(name, ['admin'])
  const response = await through('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: name, password: PASSWORD }).toString(),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

function call(through: Through, token: string, method: string, path: string, body?: unknown) {
  return through(path, {
    method,
    headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

function emailOf(userId: string) {
  return env.DB.prepare('SELECT email, email_verified FROM users WHERE id = ?1')
    .bind(userId)
    .first<{ email: string | null; email_verified: number }>()
}

describe('PATCH /admin/users/{id}: email and email_verified', () => {
  it('sets an address normalized (unverified unless said), marks it verified, and null removes it', async () => {
    const through = gateway()
    const token = await adminOf(through, 'ae-admin-set')
    const user = await createUser('ae-patched')
    const set = await call(through, token, 'PATCH', `/admin/users/${user.id}`, { email: ' Pat@EXAMPLE.com ' })
    expect(set.status).toBe(200)
    expect(await set.json()).toMatchObject({ email: 'Pat@example.com', email_verified: false })
    const verified = await call(through, token, 'PATCH', `/admin/users/${user.id}`, { email_verified: true })
    expect(await verified.json()).toMatchObject({ email: 'Pat@example.com', email_verified: true })
    const removed = await call(through, token, 'PATCH', `/admin/users/${user.id}`, { email: null })
    expect(removed.status).toBe(200)
    expect(await removed.json()).toMatchObject({ email: null, email_verified: false })
    expect(await emailOf(user.id)).toEqual({ email: null, email_verified: 0 })
  })

  it('409 for an address another user holds verified (case-insensitively), verified or not; a bad address is 400', async () => {
    const through = gateway()
    const token = await adminOf(through, 'ae-admin-conflict')
    await userWithEmail('ae-verified-holder', 'held@example.com')
    const other = await createUser('ae-other')
    for (const body of [{ email: 'HELD@example.com' }, { email: 'held@example.com', email_verified: true }]) {
      const response = await call(through, token, 'PATCH', `/admin/users/${other.id}`, body)
      expect(response.status).toBe(409)
      expect(await response.json()).toMatchObject({ error: 'conflict' })
    }
    expect(await emailOf(other.id)).toEqual({ email: null, email_verified: 0 })
    const bad = await call(through, token, 'PATCH', `/admin/users/${other.id}`, { email: 'not an address' })
    expect(bad.status).toBe(400)
  })

  it('a verified address wins over an unverified holder, and a new address ends the pending emailed links', async () => {
    const through = gateway()
    const token = await adminOf(through, 'ae-admin-wins')
    const squatter = await userWithEmail('ae-unverified-holder', 'claimed@example.com', false)
    const owner = await userWithEmail('ae-real-owner', 'owner-old@example.com')
    const reset = await issueLinkToken(env.DB, {
      userId: owner.id,
      purpose: 'password_reset',
      email: 'owner-old@example.com',
      ttlSeconds: 600,
    })
    const response = await call(through, token, 'PATCH', `/admin/users/${owner.id}`, {
      email: 'claimed@example.com',
      email_verified: true,
    })
    expect(response.status).toBe(200)
    expect(await emailOf(owner.id)).toEqual({ email: 'claimed@example.com', email_verified: 1 })
    expect(await emailOf(squatter.id)).toEqual({ email: null, email_verified: 0 })
    expect((await through(`/auth/reset-password?token=${reset}`)).status).toBe(400)
  })
})

describe('POST /admin/users/{id}/password-reset', () => {
  it("202: mails a reset link built from ISSUER to the user's address, which opens the reset page", async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const token = await adminOf(through, 'ae-admin-reset')
    const user = await userWithEmail('ae-reset-target', 'target@example.com')
    const response = await call(through, token, 'POST', `/admin/users/${user.id}/password-reset`)
    expect(response.status).toBe(202)
    expect(sent.map((mail) => mail.to)).toEqual(['target@example.com'])
    const link = linkIn(sent[0]?.text ?? '', '/auth/reset-password')
    expect(link.origin).toBe('http://127.0.0.1:8787')
    const page = await through(`${link.pathname}${link.search}`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('ae-reset-target')
  })

  it('409 for a user without an address, 404 for no such user, and nothing is mailed', async () => {
    const sent: Sent[] = []
    const through = gateway(sent)
    const token = await adminOf(through, 'ae-admin-noaddr')
    const user = await createUser('ae-no-address')
    const none = await call(through, token, 'POST', `/admin/users/${user.id}/password-reset`)
    expect(none.status).toBe(409)
    expect(await none.json()).toMatchObject({ error: 'conflict' })
    const unknown = await call(through, token, 'POST', `/admin/users/${crypto.randomUUID()}/password-reset`)
    expect(unknown.status).toBe(404)
    expect(sent).toEqual([])
  })
})
