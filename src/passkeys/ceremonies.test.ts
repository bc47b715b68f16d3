import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { waitForAudit } from '../../test/support/admin'
import {
  creationOptions,
  Jar,
  loginPage,
  pageFetch,
  register,
  requestOptions,
  signedInUser,
  signIn,
  userWithPasskey,
} from '../../test/support/passkeys'
import { FLAG_UP, TestAuthenticator } from '../../test/support/webauthn'
import { sha256Hex, toBase64Url } from '../crypto/bytes'

// The relying party's defenses, one attack per row: each must fail with its own reason, and each
// would pass if that check were removed (the row changes only the one field it attacks).

async function errorOf(response: Response): Promise<{ status: number; description: string }> {
  const body = (await response.json()) as { error_description: string }
  return { status: response.status, description: body.error_description }
}

async function refusedWith(reason: string, ceremony: 'registration' | 'authentication') {
  const event = await waitForAudit(
    (e) => e.type === 'passkey_refused' && e.details.reason === reason && e.details.ceremony === ceremony,
  )
  expect(event.outcome).toBe('failure')
  return event
}

describe('registration refuses', () => {
  const cases: { name: string; reason: string; tweaks: Parameters<TestAuthenticator['register']>[1] }[] = [
    {
      name: 'a response from another origin',
      reason: 'wrong_origin',
      tweaks: { origin: 'http://evil.test' },
    },
    { name: 'an RP ID hash of another site', reason: 'wrong_rp_id', tweaks: { rpId: 'evil.test' } },
    {
      name: 'an assertion type in place of a creation',
      reason: 'wrong_type',
      tweaks: { type: 'webauthn.get' },
    },
    { name: 'a response without user verification', reason: 'user_not_verified', tweaks: { flags: FLAG_UP } },
    { name: 'a response from a cross-origin frame', reason: 'cross_origin', tweaks: { crossOrigin: true } },
  ]
  for (const [index, row] of cases.entries()) {
    it(`${row.name} (400, audited, nothing stored)`, async () => {
      const user = await signedInUser(`reg-neg-${index}`)
      const response = await register(user.jar, await TestAuthenticator.create(), { tweaks: row.tweaks })
      expect(response.status).toBe(400)
      await refusedWith(row.reason, 'registration')
      const stored = await env.DB.prepare('SELECT COUNT(*) AS n FROM passkeys WHERE user_id = ?1')
        .bind(user.id)
        .first<{ n: number }>()
      expect(stored?.n).toBe(0)
    })
  }

  it('a replayed challenge: the second answer to one options request is refused', async () => {
    const user = await signedInUser('reg-replay')
    const creation = await creationOptions(user.jar)
    expect((await register(user.jar, await TestAuthenticator.create(), { creation })).status).toBe(201)
    const again = await register(user.jar, await TestAuthenticator.create(), { creation })
    expect(await errorOf(again)).toMatchObject({
      status: 400,
      description: expect.stringMatching(/already answered/),
    })
    await refusedWith('unknown_challenge', 'registration')
  })

  it('a challenge issued to another browser (another binding cookie), even with the same session', async () => {
    const user = await signedInUser('reg-binding')
    const creation = await creationOptions(user.jar)
    const thief = user.jar.clone()
    thief.cookies.set('gw_webauthn', toBase64Url(crypto.getRandomValues(new Uint8Array(32))))
    const response = await register(user.jar, await TestAuthenticator.create(), {
      creation,
      finishJar: thief,
    })
    expect(response.status).toBe(400)
    await refusedWith('other_browser', 'registration')
  })

  it('a challenge issued to another user', async () => {
    const alice = await signedInUser('reg-alice')
    const mallory = await signedInUser('reg-mallory')
    const creation = await creationOptions(alice.jar)
    const finishJar = mallory.jar.clone()
    finishJar.cookies.set('gw_webauthn', alice.jar.cookies.get('gw_webauthn') ?? '')
    const response = await register(alice.jar, await TestAuthenticator.create(), { creation, finishJar })
    expect(response.status).toBe(400)
    await refusedWith('other_user', 'registration')
  })

  it('an expired challenge', async () => {
    const user = await signedInUser('reg-expired')
    const creation = await creationOptions(user.jar)
    await env.DB.prepare(
      'UPDATE webauthn_challenges SET expires_at = expires_at - 301 WHERE challenge_hash = ?1',
    )
      .bind(await sha256Hex(creation.challenge))
      .run()
    const response = await register(user.jar, await TestAuthenticator.create(), { creation })
    expect(await errorOf(response)).toMatchObject({
      status: 400,
      description: expect.stringMatching(/expired/),
    })
    await refusedWith('expired_challenge', 'registration')
  })

  it('a credential id another user registered already (409, the first owner keeps it)', async () => {
    const first = await userWithPasskey('reg-owner')
    const second = await signedInUser('reg-copier')
    const response = await register(second.jar, first.authenticator)
    expect(response.status).toBe(409)
    await refusedWith('credential_taken', 'registration')
    const owner = await env.DB.prepare('SELECT user_id FROM passkeys WHERE credential_id = ?1')
      .bind(first.authenticator.id)
      .first<{ user_id: string }>()
    expect(owner?.user_id).toBe(first.id)
  })
})

describe('sign-in refuses', () => {
  const cases: { name: string; reason: string; tweaks: Parameters<TestAuthenticator['assert']>[1] }[] = [
    {
      name: 'an assertion for another origin',
      reason: 'wrong_origin',
      tweaks: { origin: 'http://evil.test' },
    },
    { name: 'an RP ID hash of another site', reason: 'wrong_rp_id', tweaks: { rpId: 'evil.test' } },
    {
      name: 'a creation type in place of an assertion',
      reason: 'wrong_type',
      tweaks: { type: 'webauthn.create' },
    },
    {
      name: 'an assertion without user verification',
      reason: 'user_not_verified',
      tweaks: { flags: FLAG_UP },
    },
    {
      name: 'an assertion without a user handle',
      reason: 'user_handle_mismatch',
      tweaks: { userHandle: null },
    },
  ]
  for (const [index, row] of cases.entries()) {
    it(`${row.name} (401, audited, no session)`, async () => {
      const { authenticator } = await userWithPasskey(`auth-neg-${index}`)
      const response = await signIn(authenticator, { tweaks: row.tweaks })
      expect(response.status).toBe(401)
      expect(response.headers.getAll('set-cookie').some((line) => line.startsWith('gw_session='))).toBe(false)
      await refusedWith(row.reason, 'authentication')
    })
  }

  it("another user's userHandle: a passkey cannot sign in as someone else", async () => {
    const victim = await userWithPasskey('auth-victim')
    const attacker = await userWithPasskey('auth-attacker')
    const handle = toBase64Url(new TextEncoder().encode(victim.id))
    const response = await signIn(attacker.authenticator, { tweaks: { userHandle: handle } })
    expect(response.status).toBe(401)
    await refusedWith('user_handle_mismatch', 'authentication')
  })

  it('a replayed assertion: the same signed answer twice', async () => {
    const { authenticator } = await userWithPasskey('auth-replay')
    const page = await loginPage()
    const request = await requestOptions(page.jar, page.csrf)
    const credential = await authenticator.assert(request)
    // Both sent with the page's cookies as they were (the first answer's new cookies aside).
    const send = () =>
      pageFetch(page.jar.clone(), '/auth/passkeys/authentication', {
        method: 'POST',
        body: { csrf: page.csrf, return_to: '/app/', credential },
      })
    expect((await send()).status).toBe(200)
    const again = await send()
    expect(again.status).toBe(401)
    await refusedWith('unknown_challenge', 'authentication')
  })

  it('a challenge issued to another browser', async () => {
    const { authenticator } = await userWithPasskey('auth-binding')
    const victim = await loginPage()
    const request = await requestOptions(victim.jar, victim.csrf)
    const attacker = await loginPage()
    // The attacker's own page and binding cookie, the victim's challenge.
    await requestOptions(attacker.jar, attacker.csrf)
    const response = await signIn(authenticator, { page: attacker, request })
    expect(response.status).toBe(401)
    await refusedWith('other_browser', 'authentication')
  })

  it('an expired challenge', async () => {
    const { authenticator } = await userWithPasskey('auth-expired')
    const page = await loginPage()
    const request = await requestOptions(page.jar, page.csrf)
    await env.DB.prepare(
      'UPDATE webauthn_challenges SET expires_at = expires_at - 301 WHERE challenge_hash = ?1',
    )
      .bind(await sha256Hex(request.challenge))
      .run()
    const response = await signIn(authenticator, { page, request })
    expect(response.status).toBe(401)
    await refusedWith('expired_challenge', 'authentication')
  })

  it('a registration challenge used to sign in', async () => {
    const user = await userWithPasskey('auth-purpose')
    const creation = await creationOptions(user.jar)
    const page = await loginPage()
    page.jar.cookies.set('gw_webauthn', user.jar.cookies.get('gw_webauthn') ?? '')
    const response = await signIn(user.authenticator, {
      page,
      request: { challenge: creation.challenge, rpId: creation.rp.id },
    })
    expect(response.status).toBe(401)
    await refusedWith('wrong_purpose', 'authentication')
  })

  it('a bad signature (another key for the same credential id)', async () => {
    const { authenticator } = await userWithPasskey('auth-forged')
    const forger = await TestAuthenticator.create()
    Object.assign(forger, { credentialId: authenticator.credentialId, userHandle: authenticator.userHandle })
    const response = await signIn(forger)
    expect(response.status).toBe(401)
    await refusedWith('bad_signature', 'authentication')
  })

  it('an unknown credential', async () => {
    const stranger = await TestAuthenticator.create()
    stranger.userHandle = toBase64Url(new TextEncoder().encode('00000000-0000-0000-0000-000000000000'))
    const response = await signIn(stranger)
    expect(response.status).toBe(401)
    await refusedWith('unknown_credential', 'authentication')
  })

  it('a cloned authenticator: a counter that does not increase is refused and audited as a suspected clone', async () => {
    const user = await userWithPasskey('auth-clone', { counter: 5 })
    expect((await signIn(user.authenticator)).status).toBe(200) // counter 6
    const clone = await signIn(user.authenticator, { tweaks: { counter: 6 } })
    expect(clone.status).toBe(401)
    const event = await waitForAudit((e) => e.type === 'passkey_clone_suspected')
    expect(event.details.passkey_id).toBe(user.passkeyId)
    expect(event.subject_id).toBe(user.id)
    const row = await env.DB.prepare('SELECT sign_count FROM passkeys WHERE id = ?1')
      .bind(user.passkeyId)
      .first<{ sign_count: number }>()
    expect(row?.sign_count).toBe(6)
  })

  it('accepts an authenticator without a counter (always zero) again and again', async () => {
    const { authenticator } = await userWithPasskey('auth-zero')
    expect((await signIn(authenticator)).status).toBe(200)
    expect((await signIn(authenticator)).status).toBe(200)
  })

  it('without the login form token (login CSRF): 403 before any challenge is issued', async () => {
    const page = await loginPage()
    const response = await pageFetch(page.jar, '/auth/passkeys/authentication-options', {
      method: 'POST',
      body: { csrf: 'x'.repeat(43) },
    })
    expect(response.status).toBe(403)
    const crossSite = await pageFetch(page.jar, '/auth/passkeys/authentication-options', {
      method: 'POST',
      body: { csrf: page.csrf },
      headers: { 'sec-fetch-site': 'cross-site', origin: 'http://evil.test' },
    })
    expect(crossSite.status).toBe(403)
  })

  it('answers malformed input with a clear 4xx, never 500', async () => {
    const page = await loginPage()
    await requestOptions(page.jar, page.csrf)
    for (const credential of [undefined, 'text', { id: 'a', rawId: 'a', type: 'public-key', response: {} }]) {
      const response = await pageFetch(page.jar, '/auth/passkeys/authentication', {
        method: 'POST',
        body: { csrf: page.csrf, credential },
      })
      expect(response.status).toBe(401)
    }
    const jar = new Jar()
    const notJson = await pageFetch(jar, '/auth/passkeys/authentication', { method: 'POST' })
    expect(notJson.status).toBe(400)
  })
})
