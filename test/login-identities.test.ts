/**
 * A signed-in user's external identities: listing, explicit linking (started only from our own
 * pages, finished only in the same signed-in browser), and unlinking that never removes the
 * last way to sign in.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from './support/accounts'
import { waitForAudit } from './support/admin'
import { fetchWithEnv, GATEWAY } from './support/gateway'
import {
  atOidcProvider,
  gatewayGet,
  Jar,
  loginError,
  newBrowser,
  oidcConfig,
  oidcProvider,
  signInOidc,
  startLogin,
  type Through,
} from './support/login-providers'
import { browserLogin } from './support/sessions'

async function passwordBrowser(through: Through, username: string): Promise<void> {
  const login = await browserLogin(username, {
    through: (path, init) => fetchWithEnv(through.env, path, init),
  })
  expect(login.response.status).toBe(303)
  through.jar.cookies.set('gw_session', login.session)
  through.jar.cookies.set('gw_csrf', login.csrf)
}

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }

describe('linking a provider to a signed-in account', () => {
  it('links from the account page and lists the identity', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp, { registration: false })])
    const user = await createUser(`linker-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const authorize = await startLogin(browser, idp.name, 'link=1', SAME_ORIGIN)
    const back = await gatewayGet(browser, await atOidcProvider(authorize))
    expect(back.status).toBe(303)
    expect(back.headers.get('location')).toBe('/auth/identities')
    const list = await gatewayGet(browser, '/auth/identities', { accept: 'application/json' })
    const body = (await list.json()) as { items: { provider: string }[] }
    expect(body.items.map((item) => item.provider)).toEqual([idp.name])
    expect(await waitForAudit((e) => e.type === 'identity_linked' && e.subject_id === user.id)).toMatchObject(
      { details: { provider: idp.name, how: 'explicit' } },
    )
    // Registration is off, yet the linked identity now signs in as this user.
    const other = newBrowser([oidcConfig(idp, { registration: false })])
    expect((await signInOidc(other, idp)).status).toBe(303)
  })

  it('refuses to start linking from another site (cross-site navigation)', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const user = await createUser(`xsite-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const response = await gatewayGet(browser, `/auth/login/${idp.name}?link=1`, {
      'sec-fetch-site': 'cross-site',
    })
    expect(response.status).toBe(403)
    expect(await loginError(response)).toMatch(/sign in first and start from your account page/)
  })

  it('refuses to start linking without a session', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const response = await gatewayGet(browser, `/auth/login/${idp.name}?link=1`, SAME_ORIGIN)
    expect(response.status).toBe(403)
  })

  it('refuses to link an identity already linked to another user', async () => {
    const idp = await oidcProvider()
    const first = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(first, idp)).status).toBe(303)
    const browser: Through = { env: first.env, jar: new Jar() }
    const user = await createUser(`second-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const authorize = await startLogin(browser, idp.name, 'link=1', SAME_ORIGIN)
    const back = await gatewayGet(browser, await atOidcProvider(authorize))
    expect(back.status).toBe(409)
    expect(await loginError(back)).toMatch(/already linked to another user/)
  })
})

describe('unlinking', () => {
  it('refuses to unlink the only way to sign in (no password, no other provider)', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const response = await fetchWithEnv(browser.env, `/auth/identities/${idp.name}`, {
      method: 'DELETE',
      headers: { cookie: browser.jar.header(), origin: GATEWAY, ...SAME_ORIGIN },
    })
    expect(response.status).toBe(409)
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM external_identities WHERE provider = ?1')
      .bind(idp.name)
      .first<{ n: number }>()
    expect(left?.n).toBe(1)
  })

  it("answers the account page's unlink form with the error page, not raw JSON, when it is the last way in", async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(browser, idp)).status).toBe(303)
    const response = await fetchWithEnv(browser.env, `/auth/identities/${idp.name}/unlink`, {
      method: 'POST',
      headers: { cookie: browser.jar.header(), accept: 'text/html', ...SAME_ORIGIN },
    })
    expect(response.status).toBe(409)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await response.text()).toContain('This is the only way to sign in to this account')
  })

  it('unlinks when the user still has a password; a cross-site unlink is refused', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const user = await createUser(`unlink-${idp.name}`)
    await passwordBrowser(browser, user.username)
    await gatewayGet(
      browser,
      await atOidcProvider(await startLogin(browser, idp.name, 'link=1', SAME_ORIGIN)),
    )
    const crossSite = await fetchWithEnv(browser.env, `/auth/identities/${idp.name}/unlink`, {
      method: 'POST',
      headers: { cookie: browser.jar.header(), 'sec-fetch-site': 'cross-site' },
    })
    expect(crossSite.status).toBe(403)
    const response = await fetchWithEnv(browser.env, `/auth/identities/${idp.name}`, {
      method: 'DELETE',
      headers: { cookie: browser.jar.header(), ...SAME_ORIGIN },
    })
    expect(response.status).toBe(204)
    expect(
      await waitForAudit((e) => e.type === 'identity_unlinked' && e.subject_id === user.id),
    ).toMatchObject({ details: { provider: idp.name } })
    const again = await fetchWithEnv(browser.env, `/auth/identities/${idp.name}`, {
      method: 'DELETE',
      headers: { cookie: browser.jar.header(), ...SAME_ORIGIN },
    })
    expect(again.status).toBe(404)
  })
})
