/**
 * Sign in with GitHub, through the GitHub stand-in `npm start` uses (on loopback, configured with
 * the Enterprise-style endpoint overrides): the profile comes from /user, the email only from a
 * verified primary in /user/emails, organizations from /user/orgs.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import {
  atGithub,
  gatewayGet,
  githubConfig,
  githubUser,
  identityCount,
  loginError,
  newBrowser,
  startLogin,
  type Through,
  userCount,
} from '../../test/support/login-providers'
import { setUserEmail } from '../users/store'

let nextId = 50_000 + Math.floor(Math.random() * 10_000)
function login(): { id: number; login: string } {
  nextId += 1
  return { id: nextId, login: `octo-${nextId}` }
}

async function signInGithub(through: Through, provider: string, as: string): Promise<Response> {
  return gatewayGet(through, await atGithub(await startLogin(through, provider), as))
}

async function userOf(provider: string, subject: number) {
  return env.DB.prepare(
    `SELECT u.id, u.username, u.roles, i.email FROM users u JOIN external_identities i ON i.user_id = u.id
     WHERE i.provider = ?1 AND i.subject = ?2`,
  )
    .bind(provider, String(subject))
    .first<{ id: string; username: string; roles: string; email: string | null }>()
}

describe('sign in with GitHub (Enterprise-style endpoints)', () => {
  it('creates a user named after the GitHub login, keyed by the numeric id, with mapped org roles', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com`, orgs: ['Acme'] })
    const browser = newBrowser([
      githubConfig('gh-orgs', {
        scopes: ['read:user', 'user:email', 'read:org'],
        role_map: { acme: ['editor'] },
      }),
    ])
    const authorize = await startLogin(browser, 'gh-orgs')
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.has('nonce')).toBe(false)
    const response = await gatewayGet(browser, await atGithub(authorize, who.login))
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/app/')
    const user = await userOf('gh-orgs', who.id)
    expect(user?.username).toBe(who.login)
    expect(JSON.parse(user?.roles ?? '[]')).toEqual(['editor', 'user'])
    expect(user?.email).toBe(`${who.login}@example.com`)
  })

  it('refuses a user outside allowed_orgs, creating nothing', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com`, orgs: ['other-org'] })
    const browser = newBrowser([
      githubConfig('gh-orgs', { scopes: ['read:user', 'user:email', 'read:org'], allowed_orgs: ['acme'] }),
    ])
    const users = await userCount()
    const response = await signInGithub(browser, 'gh-orgs', who.login)
    expect(response.status).toBe(403)
    expect(await loginError(response)).toBe('Your Test GitHub account is not allowed to sign in here.')
    expect(await userCount()).toBe(users)
  })

  // Sign-up closed (REGISTRATION=off): with it open, link_by_verified_email is a config error.
  const CLOSED = { REGISTRATION: 'off' }

  it('account takeover: an unverified primary email never joins the local account with that name', async () => {
    const who = login()
    const victim = await createUser(`${who.login}-victim@example.com`)
    await githubUser({ ...who, email: victim.username, verified: false })
    const browser = newBrowser([githubConfig('gh-link', { link_by_verified_email: true })], CLOSED)
    expect((await signInGithub(browser, 'gh-link', who.login)).status).toBe(303)
    const user = await userOf('gh-link', who.id)
    expect(user?.id).not.toBe(victim.id)
    expect(user?.email).toBeNull()
  })

  it('account pre-hijacking: a verified primary email equal to an existing username never joins that account', async () => {
    const who = login()
    // An account someone named after the address (registered while sign-up was open, say).
    const squatter = await createUser(`${who.login}-local@example.com`)
    await githubUser({ ...who, email: squatter.username, verified: true })
    const closed = newBrowser(
      [githubConfig('gh-closed', { link_by_verified_email: true, registration: false })],
      CLOSED,
    )
    const refused = await signInGithub(closed, 'gh-closed', who.login)
    expect(refused.status).toBe(403)
    expect(await loginError(refused)).toMatch(/No account here is linked/)
    expect(await identityCount('gh-closed')).toBe(0)
    const open = newBrowser([githubConfig('gh-link', { link_by_verified_email: true })], CLOSED)
    expect((await signInGithub(open, 'gh-link', who.login)).status).toBe(303)
    expect((await userOf('gh-link', who.id))?.id).not.toBe(squatter.id)
  })

  it('link_by_verified_email joins the user holding the verified primary email verified, never an unverified holder', async () => {
    const who = login()
    const holder = await createUser(`${who.login}-holder`)
    expect(await setUserEmail(env.DB, holder.id, `${who.login}@example.com`, true)).toBe(true)
    await githubUser({ ...who, email: `${who.login}@example.com`, verified: true })
    const browser = newBrowser(
      [githubConfig('gh-join', { link_by_verified_email: true, registration: false })],
      CLOSED,
    )
    expect((await signInGithub(browser, 'gh-join', who.login)).status).toBe(303)
    expect((await userOf('gh-join', who.id))?.id).toBe(holder.id)

    const other = login()
    const squatter = await createUser(`${other.login}-squatter`)
    expect(await setUserEmail(env.DB, squatter.id, `${other.login}@example.com`, false)).toBe(true)
    await githubUser({ ...other, email: `${other.login}@example.com`, verified: true })
    const refused = await signInGithub(browser, 'gh-join', other.login)
    expect(refused.status).toBe(403)
    expect(await loginError(refused)).toMatch(/No account here is linked/)
  })

  it('a new user gets the verified primary email as a verified address', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com`, verified: true })
    const browser = newBrowser([githubConfig('gh-new-email')])
    expect((await signInGithub(browser, 'gh-new-email', who.login)).status).toBe(303)
    const user = await userOf('gh-new-email', who.id)
    const row = await env.DB.prepare('SELECT email, email_verified FROM users WHERE id = ?1')
      .bind(user?.id)
      .first()
    expect(row).toEqual({ email: `${who.login}@example.com`, email_verified: 1 })
  })

  it('cancel at GitHub (access_denied): the login page says so, nothing is created', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com` })
    const browser = newBrowser([githubConfig('gh')])
    const users = await userCount()
    const response = await signInGithub(browser, 'gh', 'cancel')
    expect(response.status).toBe(403)
    expect(await loginError(response)).toBe('Signing in with Test GitHub was cancelled.')
    expect(await userCount()).toBe(users)
  })

  it('registration off: a GitHub account that is not linked may not enter', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com` })
    const browser = newBrowser([githubConfig('gh-closed', { registration: false })])
    const response = await signInGithub(browser, 'gh-closed', who.login)
    expect(response.status).toBe(403)
    expect(await identityCount('gh-closed')).toBe(0)
  })

  it('a wrong client secret: GitHub refuses the code exchange, the page says so, nothing is created', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com` })
    const browser = newBrowser([githubConfig('gh')], { TEST_GITHUB_SECRET: 'not-the-secret' })
    const users = await userCount()
    const response = await signInGithub(browser, 'gh', who.login)
    expect(response.status).toBe(502)
    expect(await loginError(response)).toBe('Test GitHub could not complete the sign-in. Please try again.')
    expect(await userCount()).toBe(users)
  })

  it('GitHub API down after the code exchange: a clear page, nothing created', async () => {
    const who = login()
    await githubUser({ ...who, email: `${who.login}@example.com` })
    const browser = newBrowser([githubConfig('gh', { api_url: 'http://127.0.0.1:9/api/v3' })])
    const users = await userCount()
    const response = await signInGithub(browser, 'gh', who.login)
    expect(response.status).toBe(502)
    expect(await loginError(response)).toBe(
      'Test GitHub cannot be reached right now. Please try again in a moment.',
    )
    expect(await userCount()).toBe(users)
  })
})
