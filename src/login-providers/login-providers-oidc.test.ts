/**
 * Sign in with an OpenID Connect provider, against a real provider over loopback HTTP (the
 * scriptable one of global-setup-providers.ts): the happy path, then every way the flow is
 * attacked or breaks. Each failure must end on the login page with a message, and leave no user,
 * identity or session behind.
 */
import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import {
  atOidcProvider,
  gatewayGet,
  identityCount,
  Jar,
  loginError,
  newBrowser,
  oidcConfig,
  oidcProvider,
  signInOidc,
  startLogin,
  type Through,
  userCount,
} from '../../test/support/login-providers'
import { sha256Hex } from '../crypto/bytes'
import { setUserEmail } from '../users/store'

async function sessionCookie(through: Through): Promise<string | undefined> {
  return through.jar.cookies.get('gw_session')
}

describe('sign in with an OpenID Connect provider', () => {
  it('sends the browser to the provider with state, PKCE S256 and a nonce, bound to a flow cookie', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const response = await gatewayGet(browser, `/auth/login/${idp.name}?return_to=/app/`)
    expect(response.status).toBe(302)
    const url = new URL(response.headers.get('location') ?? '')
    expect(url.href.startsWith(`${idp.issuer}/authorize?`)).toBe(true)
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('redirect_uri')).toBe(`http://gateway.test/auth/callback/${idp.name}`)
    expect(url.searchParams.get('scope')).toBe('openid email profile')
    const cookie = response.headers.getAll('set-cookie').find((line) => line.startsWith('gw_flow='))
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Lax/)
    expect(cookie).toMatch(/Max-Age=600/)
  })

  it('creates a local user on first sign-in, signs the browser in and returns to return_to', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([
      oidcConfig(idp, { default_roles: ['user'], role_map: { staff: ['editor'] } }),
    ])
    await idp.script({ claims: { groups: ['staff'] } })
    const response = await signInOidc(browser, idp, 'return_to=/app/dashboard?tab=1')
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/app/dashboard?tab=1')
    expect(await sessionCookie(browser)).toMatch(/^[A-Za-z0-9_-]{43}$/)

    const id = testId()
    const app = await fetchWithEnv(browser.env, '/app/whoami', {
      headers: { cookie: browser.jar.header(), 'x-test-id': id },
    })
    expect(app.status).toBe(200)
    const [seen] = await upstreamReceived(id)
    expect(seen?.headers['x-auth-method']).toBe('session')
    expect(seen?.headers['x-auth-roles']).toBe('editor,user')
    const assertion = decodeJwt(String(seen?.headers['x-auth-assertion']))
    expect(assertion.amr).toEqual(['fed'])
    expect(assertion.idp).toBe(idp.name)
    // The flow cookie is the gateway's own: never forwarded.
    expect(String(seen?.headers.cookie ?? '')).not.toContain('gw_flow')

    const user = await env.DB.prepare(
      'SELECT u.username, u.password_hash FROM users u JOIN external_identities i ON i.user_id = u.id WHERE i.provider = ?1',
    )
      .bind(idp.name)
      .first<{ username: string; password_hash: string }>()
    expect(user?.username).toMatch(/^ada-/)
    // No password works for it until one is set.
    expect(user?.password_hash.startsWith('!external:')).toBe(true)
    const session = await env.DB.prepare(
      'SELECT auth_method FROM sessions ORDER BY created_at DESC LIMIT 1',
    ).first()
    expect(session?.auth_method).toBe(`provider:${idp.name}`)
  })

  it('signs the same identity in as the same user the second time, with a new session cookie', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const first = await sessionCookie(browser)
    const users = await userCount()
    expect((await signInOidc(browser, idp)).status).toBe(303)
    expect(await sessionCookie(browser)).not.toBe(first)
    expect(await userCount()).toBe(users)
    expect(await identityCount(idp.name)).toBe(1)
  })

  it('de-duplicates a derived username that a local user already has', async () => {
    const idp = await oidcProvider()
    await createUser(`taken-${idp.name}`)
    await idp.script({ preferredUsername: `taken-${idp.name}` })
    const browser = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const row = await env.DB.prepare(
      'SELECT u.username FROM users u JOIN external_identities i ON i.user_id = u.id WHERE i.provider = ?1',
    )
      .bind(idp.name)
      .first<{ username: string }>()
    expect(row?.username).toBe(`taken-${idp.name}-2`)
  })

  it('completes two flows started in parallel tabs of one browser, in either order', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const first = await startLogin(browser, idp.name, 'return_to=/app/one')
    const second = await startLogin(browser, idp.name, 'return_to=/app/two')
    const secondBack = await gatewayGet(browser, await atOidcProvider(second))
    const firstBack = await gatewayGet(browser, await atOidcProvider(first))
    expect([secondBack.status, secondBack.headers.get('location')]).toEqual([303, '/app/two'])
    expect([firstBack.status, firstBack.headers.get('location')]).toEqual([303, '/app/one'])
  })
})

describe('the callback refuses a forged, replayed or foreign flow', () => {
  async function refused(through: Through, callback: string, users: number) {
    const response = await gatewayGet(through, callback)
    expect(response.status).toBe(400)
    expect(await loginError(response)).toMatch(/expired or was started in another browser/)
    expect(through.jar.cookies.get('gw_session')).toBeUndefined()
    expect(await userCount()).toBe(users)
    return response
  }

  it('refuses a callback without state', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const callback = new URL(await atOidcProvider(await startLogin(browser, idp.name)))
    callback.searchParams.delete('state')
    await refused(browser, callback.href, await userCount())
  })

  it('refuses a state the gateway never issued', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const callback = new URL(await atOidcProvider(await startLogin(browser, idp.name)))
    callback.searchParams.set('state', 'A'.repeat(43))
    await refused(browser, callback.href, await userCount())
  })

  it('login CSRF: refuses the callback of a sign-in started in another browser (the attacker’s)', async () => {
    const idp = await oidcProvider()
    const attacker = newBrowser([oidcConfig(idp)])
    const callback = await atOidcProvider(await startLogin(attacker, idp.name))
    const victim: Through = { env: attacker.env, jar: new Jar() }
    await refused(victim, callback, await userCount())
    // The victim's own flow cookie does not help either.
    const victimFlow = newBrowser([oidcConfig(idp)])
    await startLogin(victimFlow, idp.name)
    const callback2 = await atOidcProvider(await startLogin(attacker, idp.name))
    await refused(victimFlow, callback2, await userCount())
  })

  it('refuses a replayed callback: a flow is used once', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const callback = await atOidcProvider(await startLogin(browser, idp.name))
    expect((await gatewayGet(browser, callback)).status).toBe(303)
    browser.jar.cookies.delete('gw_session')
    await refused(browser, callback, await userCount())
  })

  it('refuses an expired flow', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const callback = await atOidcProvider(await startLogin(browser, idp.name))
    await env.DB.prepare('UPDATE login_flows SET expires_at = 0').run()
    await refused(browser, callback, await userCount())
  })

  it('mix-up: refuses a flow started for one provider that comes back to another provider’s callback', async () => {
    const a = await oidcProvider()
    const b = await oidcProvider()
    const browser = newBrowser([oidcConfig(a), oidcConfig(b)])
    const callback = await atOidcProvider(await startLogin(browser, a.name))
    await refused(
      browser,
      callback.replace(`/auth/callback/${a.name}`, `/auth/callback/${b.name}`),
      await userCount(),
    )
  })
})

describe("someone who learns a victim's state cannot cancel the victim's sign-in", () => {
  interface Victim {
    browser: Through
    callback: string
    provider: string
    otherProvider: string
  }
  const replays: [string, (victim: Victim) => Promise<Response>][] = [
    ['without a flow cookie', (v) => gatewayGet({ env: v.browser.env, jar: new Jar() }, v.callback)],
    [
      "with the attacker's own flow cookie",
      async (v) => {
        const attacker: Through = { env: v.browser.env, jar: new Jar() }
        await startLogin(attacker, v.provider)
        return gatewayGet(attacker, v.callback)
      },
    ],
    [
      "at another provider's callback",
      (v) =>
        gatewayGet(
          v.browser,
          v.callback.replace(`/auth/callback/${v.provider}`, `/auth/callback/${v.otherProvider}`),
        ),
    ],
  ]

  it.each(replays)(
    "the victim's callback replayed %s is refused and takes nothing: the victim still signs in",
    async (_, replay) => {
      const idp = await oidcProvider()
      const other = await oidcProvider()
      const browser = newBrowser([oidcConfig(idp), oidcConfig(other)])
      const callback = await atOidcProvider(await startLogin(browser, idp.name))
      const refused = await replay({ browser, callback, provider: idp.name, otherProvider: other.name })
      expect(refused.status).toBe(400)
      expect(await loginError(refused)).toMatch(/expired or was started in another browser/)
      const stateHash = await sha256Hex(new URL(callback).searchParams.get('state') ?? '')
      const flow = await env.DB.prepare('SELECT provider FROM login_flows WHERE state_hash = ?1')
        .bind(stateHash)
        .first<{ provider: string }>()
      expect(flow?.provider).toBe(idp.name)
      const back = await gatewayGet(browser, callback)
      expect(back.status).toBe(303)
      expect(await sessionCookie(browser)).toBeDefined()
    },
  )
})

describe('the ID token and the authorization response are verified', () => {
  const cases: [string, Parameters<Awaited<ReturnType<typeof oidcProvider>>['script']>[0]][] = [
    ['a wrong nonce (an ID token from another sign-in)', { idToken: { nonce: 'nonce-of-another-flow' } }],
    ['an ID token signed by another key', { idToken: { otherKey: true } }],
    ['an ID token for another audience', { idToken: { aud: 'another-client' } }],
    ['an ID token from another issuer (mix-up)', { idToken: { iss: 'https://evil.example' } }],
    ['an expired ID token', { idToken: { expOffset: -3600 } }],
    [
      'an `iss` of another issuer in the authorization response (RFC 9207 mix-up)',
      { issParam: 'https://evil.example' },
    ],
    ['no `iss` in the response of a provider that announces it (RFC 9207)', { issParam: null }],
  ]
  for (const [attack, script] of cases) {
    it(`refuses ${attack}, creating nothing`, async () => {
      const idp = await oidcProvider()
      await idp.script(script)
      const browser = newBrowser([oidcConfig(idp)])
      const users = await userCount()
      const response = await signInOidc(browser, idp)
      expect(response.status).toBe(502)
      expect(await loginError(response)).toMatch(/could not be verified/)
      expect(browser.jar.cookies.get('gw_session')).toBeUndefined()
      expect(await userCount()).toBe(users)
      expect(await identityCount(idp.name)).toBe(0)
    })
  }
})

describe('provider errors and outages end on the login page', () => {
  it('access_denied at the provider: "cancelled", and a new attempt is one click away', async () => {
    const idp = await oidcProvider({ authorizeError: 'access_denied' })
    const browser = newBrowser([oidcConfig(idp)])
    const response = await signInOidc(browser, idp)
    expect(response.status).toBe(403)
    const html = await response.clone().text()
    expect(await loginError(response)).toBe('Signing in with Test OIDC was cancelled.')
    expect(html).toContain(`href="/auth/login/${idp.name}?return_to=%2Fapp%2F"`)
  })

  it('another provider error is shown as ours, never the provider’s own description', async () => {
    const idp = await oidcProvider({ authorizeError: 'temporarily_unavailable' })
    const browser = newBrowser([oidcConfig(idp)])
    const callback = new URL(await atOidcProvider(await startLogin(browser, idp.name)))
    callback.searchParams.set('error_description', 'Call +1 555 0100 to restore your account')
    const response = await gatewayGet(browser, callback.href)
    expect(response.status).toBe(502)
    const html = await response.text()
    expect(html).toContain('Test OIDC could not complete the sign-in.')
    expect(html).not.toContain('555 0100')
  })

  it('provider down at the start (discovery fails): a clear page, no flow stored', async () => {
    const idp = await oidcProvider({ discoveryDown: true })
    const browser = newBrowser([oidcConfig(idp)])
    const response = await gatewayGet(browser, `/auth/login/${idp.name}`)
    expect(response.status).toBe(502)
    expect(await loginError(response)).toBe(
      'Test OIDC cannot be reached right now. Please try again in a moment.',
    )
    const flows = await env.DB.prepare('SELECT COUNT(*) AS n FROM login_flows WHERE provider = ?1')
      .bind(idp.name)
      .first<{ n: number }>()
    expect(flows?.n).toBe(0)
  })

  it('token endpoint failing: a clear page, nothing created', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const authorize = await startLogin(browser, idp.name)
    await idp.script({ tokenStatus: 500 })
    const users = await userCount()
    const response = await gatewayGet(browser, await atOidcProvider(authorize))
    expect(response.status).toBe(502)
    expect(await userCount()).toBe(users)
  })

  it('JWKS unreachable: a clear page, nothing created', async () => {
    const idp = await oidcProvider({ jwksDown: true })
    const browser = newBrowser([oidcConfig(idp)])
    const users = await userCount()
    const response = await signInOidc(browser, idp)
    expect(response.status).toBe(502)
    expect(await loginError(response)).toMatch(/cannot be reached/)
    expect(await userCount()).toBe(users)
    expect(await identityCount(idp.name)).toBe(0)
  })

  it('a missing client secret disables that provider with a page, never a 500', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)], { TEST_OIDC_SECRET: undefined })
    const response = await gatewayGet(browser, `/auth/login/${idp.name}`)
    expect(response.status).toBe(503)
    expect(await loginError(response)).toMatch(/not available right now/)
    // The rest of the gateway is unaffected.
    expect((await fetchWithEnv(browser.env, '/auth/login')).status).toBe(200)
  })

  it('an unknown provider name: 404 on the login page', async () => {
    const browser = newBrowser([])
    const response = await gatewayGet(browser, '/auth/login/nope')
    expect(response.status).toBe(404)
    expect(await loginError(response)).toBe('There is no such sign-in option.')
  })
})

// Sign-up closed (REGISTRATION=off): with it open, link_by_verified_email is a config error.
const CLOSED = { REGISTRATION: 'off' }

/** A sign-in with registration off that finds no account to join: the login page says so. */
async function expectNoAccountFor(idp: Awaited<ReturnType<typeof oidcProvider>>, linkByEmail: boolean) {
  const browser = newBrowser(
    [oidcConfig(idp, { link_by_verified_email: linkByEmail, registration: false })],
    CLOSED,
  )
  const refused = await signInOidc(browser, idp)
  expect(refused.status).toBe(403)
  expect(await loginError(refused)).toMatch(/No account here is linked/)
  expect(await identityCount(idp.name)).toBe(0)
}

describe('accounts: registration, allow-lists and linking by email', () => {
  it('registration off: an identity that is not linked may not enter', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp, { registration: false })])
    const users = await userCount()
    const response = await signInOidc(browser, idp)
    expect(response.status).toBe(403)
    expect(await loginError(response)).toMatch(/No account here is linked/)
    expect(await userCount()).toBe(users)
  })

  it('refuses a verified email outside allowed_email_domains, and an unverified one inside', async () => {
    const idp = await oidcProvider({ email: 'eve@evil.example', emailVerified: true })
    const browser = newBrowser([oidcConfig(idp, { allowed_email_domains: ['example.com'] })])
    const users = await userCount()
    const outside = await signInOidc(browser, idp)
    expect(outside.status).toBe(403)
    expect(await loginError(outside)).toMatch(/not allowed to sign in here/)
    await idp.script({ email: 'eve@example.com', emailVerified: false })
    expect((await signInOidc(browser, idp)).status).toBe(403)
    expect(await userCount()).toBe(users)
    await idp.script({ email: 'eve@EXAMPLE.com', emailVerified: true })
    expect((await signInOidc(browser, idp)).status).toBe(303)
  })

  it('account takeover: an unverified email never joins the local account with that name', async () => {
    const victim = await createUser(`victim-${crypto.randomUUID().slice(0, 6)}@example.com`)
    const idp = await oidcProvider({ email: victim.username, emailVerified: false })
    const browser = newBrowser([oidcConfig(idp, { link_by_verified_email: true })], CLOSED)
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const linked = await env.DB.prepare('SELECT user_id FROM external_identities WHERE provider = ?1')
      .bind(idp.name)
      .first<{ user_id: string }>()
    expect(linked?.user_id).not.toBe(victim.id)
  })

  it('account pre-hijacking: a verified email equal to an existing username never joins that account, trusted or not', async () => {
    // An account someone named after the victim's address (registered while sign-up was open, or
    // created by a provider from a preferred_username): its name proves nothing about the address.
    const squatter = await createUser(`squat-${crypto.randomUUID().slice(0, 6)}@example.com`)
    const idp = await oidcProvider({ email: squatter.username, emailVerified: true })
    for (const trusted of [false, true]) await expectNoAccountFor(idp, trusted)
    // With registration at the provider, the sign-in gets an account of its own.
    const browser = newBrowser([oidcConfig(idp, { link_by_verified_email: true })], CLOSED)
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const linked = await env.DB.prepare('SELECT user_id FROM external_identities WHERE provider = ?1')
      .bind(idp.name)
      .first<{ user_id: string }>()
    expect(linked?.user_id).not.toBe(squatter.id)
  })
})

describe('verified addresses: link_by_verified_email and the address of a new user', () => {
  const tag = () => crypto.randomUUID().slice(0, 6)

  async function linkedUser(provider: string) {
    return env.DB.prepare('SELECT user_id FROM external_identities WHERE provider = ?1')
      .bind(provider)
      .first<string>('user_id')
  }

  async function emailRow(userId: string | null) {
    return env.DB.prepare('SELECT email, email_verified FROM users WHERE id = ?1')
      .bind(userId)
      .first<{ email: string | null; email_verified: number }>()
  }

  it("joins the local user that holds the provider's verified email as a verified address, and audits how", async () => {
    const holder = await createUser(`holder-${tag()}`)
    const address = `${holder.username}@example.com`
    expect(await setUserEmail(env.DB, holder.id, address, true)).toBe(true)
    // The provider spells the domain in capitals: addresses compare normalized.
    const idp = await oidcProvider({
      email: address.replace('example.com', 'EXAMPLE.com'),
      emailVerified: true,
    })
    const browser = newBrowser(
      [oidcConfig(idp, { link_by_verified_email: true, registration: false })],
      CLOSED,
    )
    const users = await userCount()
    expect((await signInOidc(browser, idp)).status).toBe(303)
    expect(await linkedUser(idp.name)).toBe(holder.id)
    expect(await userCount()).toBe(users)
    const event = await waitForAudit((row) => row.type === 'identity_linked' && row.subject_id === holder.id)
    expect(event.details).toMatchObject({ provider: idp.name, how: 'verified_email' })
    // The second sign-in finds the link itself.
    expect((await signInOidc(browser, idp)).status).toBe(303)
    expect(await identityCount(idp.name)).toBe(1)
  })

  it('account pre-hijacking: never joins a user holding the address unverified (anyone can type an address at sign-up)', async () => {
    const squatter = await createUser(`unverified-${tag()}`)
    const address = `${squatter.username}@example.com`
    expect(await setUserEmail(env.DB, squatter.id, address, false)).toBe(true)
    const idp = await oidcProvider({ email: address, emailVerified: true })
    await expectNoAccountFor(idp, true)
    // With registration at the provider: an account of its own, which takes the address verified.
    const open = newBrowser([oidcConfig(idp, { link_by_verified_email: true })], CLOSED)
    expect((await signInOidc(open, idp)).status).toBe(303)
    const created = await linkedUser(idp.name)
    expect(created).not.toBe(squatter.id)
    expect(await emailRow(created)).toEqual({ email: address, email_verified: 1 })
    expect(await emailRow(squatter.id)).toEqual({ email: null, email_verified: 0 })
  })

  it("a new user gets the provider's verified address, normalized and verified; an unverified one is not stored", async () => {
    const verified = await oidcProvider({ email: `  New-${tag()}@Example.COM `, emailVerified: true })
    expect((await signInOidc(newBrowser([oidcConfig(verified)]), verified)).status).toBe(303)
    const row = await emailRow(await linkedUser(verified.name))
    expect(row?.email).toMatch(/^New-\w+@example\.com$/)
    expect(row?.email_verified).toBe(1)

    const unverified = await oidcProvider({ email: `plain-${tag()}@example.com`, emailVerified: false })
    expect((await signInOidc(newBrowser([oidcConfig(unverified)]), unverified)).status).toBe(303)
    expect(await emailRow(await linkedUser(unverified.name))).toEqual({ email: null, email_verified: 0 })
  })

  it('a new user does not take an address another user holds verified (that user keeps it)', async () => {
    const holder = await createUser(`kept-${tag()}`)
    const address = `${holder.username}@example.com`
    expect(await setUserEmail(env.DB, holder.id, address, true)).toBe(true)
    // Without link_by_verified_email the sign-in gets an account of its own, without the address.
    const idp = await oidcProvider({ email: address, emailVerified: true })
    expect((await signInOidc(newBrowser([oidcConfig(idp)]), idp)).status).toBe(303)
    const created = await linkedUser(idp.name)
    expect(created).not.toBe(holder.id)
    expect(await emailRow(created)).toEqual({ email: null, email_verified: 0 })
    expect(await emailRow(holder.id)).toEqual({ email: address, email_verified: 1 })
  })
})

describe('the flow cookie on an https deployment', () => {
  it('is __Host-gw_flow (Secure, Path=/, no Domain: no sibling host can plant it)', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)], { ISSUER: 'https://gateway.example' })
    const response = await gatewayGet(browser, `/auth/login/${idp.name}`)
    expect(response.status).toBe(302)
    const cookie = response.headers.getAll('set-cookie').find((line) => line.includes('gw_flow='))
    expect(cookie).toMatch(/^__Host-gw_flow=/)
    expect(cookie).toMatch(/Secure/)
    expect(cookie).toMatch(/Path=\//)
    expect(cookie).not.toMatch(/Domain/i)
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('redirect_uri')).toBe(
      `https://gateway.example/auth/callback/${idp.name}`,
    )
  })
})
