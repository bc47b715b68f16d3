/**
 * Sign in with the local config's two stand-in providers in a real browser (issue 12): `npm start`
 * runs the gateway and both stand-ins (the run's shared gateway, support/shared-gateway.ts, whose
 * stand-ins run on other ports than wrangler.toml names, which exercises the LOGIN_PROVIDERS
 * override `npm start` passes to wrangler), and Chromium clicks
 * "Sign in with …" on the login page, signs in at the provider's own page, and lands signed in on
 * /app/, where the demo upstream echoes what it received.
 *
 * Time budget: ~8 s on a 2-core machine (Chromium; ~15 s more if it is the first file to ask for
 * the shared gateway). Measured 16 s at load 2 with a gateway of its own.
 */

import { decodeJwt } from 'jose'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { launchChromium, screenshot, watchProblems } from './support/browser'
import type { RunningGateway } from './support/gateway'
import { sharedGateway } from './support/shared-gateway'

const PASSWORD = 'a long and unusual passphrase for linking'

let gateway: RunningGateway
let browser: Browser

beforeAll(async () => {
  gateway = await sharedGateway()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
})

async function echoShown(page: Page): Promise<{ path: string; headers: Record<string, string> }> {
  return JSON.parse((await page.locator('body').textContent()) ?? '')
}

async function signedInAt(page: Page, provider: string) {
  expect(new URL(page.url()).origin).toBe(gateway.origin)
  expect(new URL(page.url()).pathname).toBe('/app/')
  const echo = await echoShown(page)
  expect(echo.headers['x-auth-method']).toBe('session')
  const assertion = decodeJwt(echo.headers['x-auth-assertion'] ?? '')
  expect(assertion.amr).toEqual(['fed'])
  expect(assertion.idp).toBe(provider)
  // None of the gateway's cookies (session, CSRF, flow) reaches the upstream.
  expect(echo.headers.cookie ?? '').not.toMatch(/gw_/)
  return echo
}

describe('sign in with the stand-in providers in Chromium', () => {
  let context: BrowserContext

  test('OpenID Connect (oidc-provider): click, sign in at the provider, land on /app/', async () => {
    context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${gateway.origin}/app/`)
    expect(new URL(page.url()).pathname).toBe('/auth/login')
    await page.getByRole('link', { name: 'Sign in with Local OIDC (Google stand-in)' }).click()
    // oidc-provider's own development login page, on its own origin.
    await page.waitForURL((url) => url.origin !== gateway.origin)
    await page.locator('input[name="login"]').fill('ada')
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button[type="submit"]').click()
    await page.waitForURL(`${gateway.origin}/app/`)
    const echo = await signedInAt(page, 'local-oidc')
    expect(echo.headers['x-auth-user']).toBe('ada')
    await screenshot(page, 'login-provider-oidc-app')
    await context.close()
  })

  test('GitHub stand-in: click, authorize at the consent page, land on /app/ with the org role', async () => {
    context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${gateway.origin}/auth/login?return_to=%2Fapp%2F`)
    await page.getByRole('link', { name: 'Sign in with Local GitHub (stand-in)' }).click()
    await page.waitForURL((url) => url.pathname === '/login/oauth/authorize')
    await page.getByRole('button', { name: 'Sign in as octo-dev' }).click()
    await page.waitForURL(`${gateway.origin}/app/`)
    const echo = await signedInAt(page, 'local-github')
    expect(echo.headers['x-auth-user']).toBe('octo-dev')
    expect(echo.headers['x-auth-roles']).toBe('editor,user')
    // The account page lists the identity.
    await page.goto(`${gateway.origin}/auth/identities`)
    await expect(
      page.getByRole('cell', { name: 'Local GitHub (stand-in)', exact: true }).count(),
    ).resolves.toBe(1)
    await context.close()
  })

  test('link from the account page: a password user clicks "Link", signs in at the provider, sees it listed', async () => {
    context = await browser.newContext()
    const problems = await watchProblems(context)
    const page = await context.newPage()
    // Sign-up is open under npm start (REGISTRATION=on in .dev.vars).
    await page.goto(`${gateway.origin}/auth/register`)
    await page.locator('input[name="username"]').fill('link-in-browser')
    await page.locator('input[name="password"]').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.waitForURL((url) => url.pathname === '/auth/login')
    await page.locator('input[name="username"]').fill('link-in-browser')
    await page.locator('input[name="password"]').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForURL((url) => url.origin === gateway.origin && url.pathname !== '/auth/login')
    await page.goto(`${gateway.origin}/auth/identities`)
    // A form button (POST with the session's CSRF token), no longer a ?link=1 link.
    await page.getByRole('button', { name: 'Link your Local OIDC (Google stand-in) account' }).click()
    // The form's answer redirects to the provider: the page's CSP form-action lets it through.
    await page.waitForURL((url) => url.origin !== gateway.origin)
    await page.locator('input[name="login"]').fill('grace-linked')
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button[type="submit"]').click()
    await page.waitForURL(`${gateway.origin}/auth/identities`)
    await expect(
      page.getByRole('cell', { name: 'Local OIDC (Google stand-in)', exact: true }).count(),
    ).resolves.toBe(1)
    expect(problems.cspViolations()).toEqual([])
    await screenshot(page, 'login-provider-linked')
    await context.close()
  })

  test('cancel at the provider: back on the login page with a message and the buttons', async () => {
    context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${gateway.origin}/auth/login`)
    await page.getByRole('link', { name: 'Sign in with Local GitHub (stand-in)' }).click()
    await page.waitForURL((url) => url.pathname === '/login/oauth/authorize')
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.waitForURL(
      (url) => url.origin === gateway.origin && url.pathname.startsWith('/auth/callback/'),
    )
    await expect(page.getByRole('alert').textContent()).resolves.toBe(
      'Signing in with Local GitHub (stand-in) was cancelled.',
    )
    await expect(
      page.getByRole('link', { name: 'Sign in with Local GitHub (stand-in)' }).count(),
    ).resolves.toBe(1)
    await context.close()
  })
})
