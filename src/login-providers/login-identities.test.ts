/**
 * A signed-in user's external identities: listing, explicit linking (started only by the account
 * page's form POST with the session's CSRF token, finished only in the same signed-in browser),
 * and unlinking that never removes the last way to sign in.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import { fetchWithEnv, GATEWAY } from '../../test/support/gateway'
import {
  atOidcProvider,
  gatewayGet,
  Jar,
  loginError,
  newBrowser,
  oidcConfig,
  oidcProvider,
  signInOidc,
  type Through,
} from '../../test/support/login-providers'
import { browserLogin } from '../../test/support/sessions'

async function passwordBrowser(through: Through, username: string): Promise<void> {
  const login = await browserLogin(username, {
    through: (path, init) => fetchWithEnv(through.env, path, init),
  })
  expect(login.response.status).toBe(303)
  through.jar.cookies.set('gw_session', login.session)
  through.jar.cookies.set('gw_csrf', login.csrf)
}

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }

/** The account page as a browser gets it: its CSRF field and its CSP. */
async function accountPage(through: Through): Promise<{ html: string; csrf: string; csp: string }> {
  const page = await gatewayGet(through, '/auth/identities')
  expect(page.status).toBe(200)
  const html = await page.text()
  return {
    html,
    csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '',
    csp: page.headers.get('content-security-policy') ?? '',
  }
}

/** POST /auth/login/{provider}/link, the account page's form, with `fields` and `headers`. */
async function postLink(
  through: Through,
  provider: string,
  fields: Record<string, string>,
  headers: Record<string, string> = SAME_ORIGIN,
): Promise<Response> {
  const response = await fetchWithEnv(through.env, `/auth/login/${provider}/link`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      cookie: through.jar.header(),
      ...headers,
    },
    body: new URLSearchParams(fields),
  })
  through.jar.take(response)
  return response
}

/** Clicks "Link your … account" on the account page: the provider's authorization URL. */
async function startLink(through: Through, provider: string): Promise<URL> {
  const response = await postLink(through, provider, { csrf: (await accountPage(through)).csrf })
  expect(response.status, await response.clone().text()).toBe(303)
  return new URL(response.headers.get('location') ?? '')
}

async function flowCount(provider: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM login_flows WHERE provider = ?1')
    .bind(provider)
    .first<{ n: number }>()
  return row?.n ?? 0
}

describe('linking a provider to a signed-in account', () => {
  it("links from the account page's form and lists the identity", async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp, { registration: false })])
    const user = await createUser(`linker-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const page = await accountPage(browser)
    expect(page.html).toContain(`action="/auth/login/${idp.name}/link"`)
    // The form's answer redirects to the provider: the page's CSP lets that redirect through.
    expect(page.csp).toContain(`form-action 'self' ${new URL(idp.issuer).origin}`)
    const back = await gatewayGet(browser, await atOidcProvider(await startLink(browser, idp.name)))
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

  it('a GET with link=1 (e.g. the return_to of a crafted login link) starts no link and no sign-in', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const user = await createUser(`getlink-${idp.name}`)
    const login = await browserLogin(user.username, {
      returnTo: `/auth/login/${idp.name}?link=1`,
      through: (path, init) => fetchWithEnv(browser.env, path, init),
    })
    const target = login.response.headers.get('location') ?? ''
    expect(target).toBe(`/auth/login/${idp.name}?link=1`)
    browser.jar.cookies.set('gw_session', login.session)
    // The login form's answer is a same-origin redirect, so the browser follows it as same-origin.
    const response = await gatewayGet(browser, target, SAME_ORIGIN)
    expect(response.status).toBe(403)
    expect(response.headers.get('location')).toBeNull()
    expect(await loginError(response)).toMatch(/sign in first and start from your account page/)
    expect(await flowCount(idp.name)).toBe(0)
  })

  it.each([
    ['without the csrf field', {}],
    ['with a wrong csrf field', { csrf: 'A'.repeat(43) }],
  ])('refuses a link POST %s, storing no flow', async (_, fields) => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const user = await createUser(`csrf-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const response = await postLink(browser, idp.name, fields)
    expect(response.status).toBe(403)
    expect(await loginError(response)).toMatch(/sign in first and start from your account page/)
    expect(await flowCount(idp.name)).toBe(0)
  })

  it("refuses another session's token, and the right token sent cross-site", async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const user = await createUser(`xsite-${idp.name}`)
    const attacker = newBrowser([oidcConfig(idp)])
    await passwordBrowser(attacker, (await createUser(`xsite-attacker-${idp.name}`)).username)
    await passwordBrowser(browser, user.username)
    const foreign = await postLink(browser, idp.name, { csrf: (await accountPage(attacker)).csrf })
    expect(foreign.status).toBe(403)
    const { csrf } = await accountPage(browser)
    const crossSite = await postLink(browser, idp.name, { csrf }, { 'sec-fetch-site': 'cross-site' })
    expect(crossSite.status).toBe(403)
    expect(await flowCount(idp.name)).toBe(0)
  })

  it('refuses to start linking without a session', async () => {
    const idp = await oidcProvider()
    const browser = newBrowser([oidcConfig(idp)])
    const response = await postLink(browser, idp.name, { csrf: 'A'.repeat(43) })
    expect(response.status).toBe(403)
    expect(await flowCount(idp.name)).toBe(0)
  })

  it('refuses to link an identity already linked to another user', async () => {
    const idp = await oidcProvider()
    const first = newBrowser([oidcConfig(idp)])
    expect((await signInOidc(first, idp)).status).toBe(303)
    const browser: Through = { env: first.env, jar: new Jar() }
    const user = await createUser(`second-${idp.name}`)
    await passwordBrowser(browser, user.username)
    const back = await gatewayGet(browser, await atOidcProvider(await startLink(browser, idp.name)))
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
    await gatewayGet(browser, await atOidcProvider(await startLink(browser, idp.name)))
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
