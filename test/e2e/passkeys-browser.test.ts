/**
 * Passkeys in a real browser (issue 22): Debian's Chromium with the DevTools protocol's virtual
 * authenticator (ctap2, internal, resident keys, user verification) against the real gateway,
 * started with `ISSUER=http://localhost:<port> npm start` (an IP address can never be an RP ID).
 * One page walks the story: a password sign-in, "Add a passkey" on the passkeys page, sign out,
 * sign in through the username field's autofill (conditional UI) and with the button, the passkey
 * as the login step of an authorization code + PKCE flow, delete it; then a second authenticator's
 * real credential, with a forged user handle naming another user, is refused.
 *
 * Chromium's virtual authenticator answers a conditional (autofill) request by itself as soon as
 * the page makes one, so the steps that test the button turn conditional mediation off in the page
 * first (an init script reading a sessionStorage flag), and the autofill step turns it back on.
 *
 * Time budget: ~30 s on a 2-core machine (one gateway, Chromium; the CLI set-up runs in-process).
 * Measured: the seven steps 11.5 s; the whole file 76 s at load 14 (other test runs on the machine),
 * almost all of it `npm start` coming up.
 */
import { createHash, webcrypto } from 'node:crypto'
import { join } from 'node:path'
import * as oauth from 'oauth4webapi'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { toBase64Url } from '../../src/crypto/bytes'
import { derSignature } from '../support/webauthn'
import { adminInProcess, closeLocalStates } from './admin-support'
import { launchChromium, type PageProblems, screenshot, watchProblems } from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'
import {
  type Callback,
  codeGrantRequest,
  discover,
  startAuthorization,
  startCallback,
} from './support/oauth-app'

const PASSWORD = 'correct horse battery staple for passkeys'
const CLIENT_ID = 'passkey-app'

let gateway: RunningGateway
let callback: Callback
let browser: Browser
let context: BrowserContext
let page: Page
let cdp: CDPSession
let problems: PageProblems
let firstAuthenticator: string
const userIds = new Map<string, string>()

const url = (path: string): string => `${gateway.origin}${path}`

async function cli(args: string[], stdin?: string): Promise<string> {
  const run = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), args, { stdin })
  if (run.code !== 0) throw new Error(`admin ${args[0]} failed: ${run.stderr}`)
  return run.stdout
}

async function addAuthenticator(): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  })
  return authenticatorId
}

/** Conditional mediation on or off for the pages that load next (see the header). */
async function autofill(on: boolean): Promise<void> {
  await page.evaluate((value) => sessionStorage.setItem('passkey-test-no-autofill', value), on ? '' : '1')
}

/** Problems the gateway's pages caused (Chromium's own favicon request aside). */
function pageProblems(): string[] {
  return problems.take().filter((problem) => !/favicon\.ico/.test(problem))
}

async function passwordSignIn(username: string): Promise<void> {
  await page.goto(url('/auth/login'))
  await page.getByLabel(/user ?name/i).fill(username)
  await page.getByLabel(/^password$/i).fill(PASSWORD)
  await page.locator('form[action="/auth/login"] button[type=submit]').click()
  await page.waitForURL((at) => at.pathname === '/auth/account')
}

async function signOut(): Promise<void> {
  await page.getByRole('button', { name: 'Sign out of this browser' }).click()
  await page.waitForURL((at) => at.pathname === '/auth/login')
}

async function addPasskey(name: string): Promise<void> {
  await page.goto(url('/auth/passkeys'))
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByRole('button', { name: 'Add a passkey' }).click()
  await page.getByRole('textbox', { name: `Name of passkey ${name}` }).waitFor()
}

beforeAll(async () => {
  callback = await startCallback()
  gateway = await startGateway({ localhostIssuer: true })
  for (const username of ['alice', 'bob']) {
    await cli(['create-user', username, '--password-stdin'], PASSWORD)
  }
  for (const line of (await cli(['users', '--json'])).trim().split('\n')) {
    const user = JSON.parse(line) as { id: string; username: string }
    userIds.set(user.username, user.id)
  }
  await cli([
    'create-client',
    CLIENT_ID,
    '--public',
    '--redirect-uri',
    `${callback.origin}/callback`,
    '--scope',
    'openid',
    '--skip-consent',
    '--name',
    'Passkey app',
  ])
  browser = await launchChromium()
  context = await browser.newContext()
  problems = await watchProblems(context)
  await context.addInitScript(() => {
    try {
      if (sessionStorage.getItem('passkey-test-no-autofill') === '1' && window.PublicKeyCredential)
        window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
    } catch {
      // A document without storage (about:blank): no passkey script runs there either.
    }
  })
  page = await context.newPage()
  cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  firstAuthenticator = await addAuthenticator()
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await closeLocalStates()
  await gateway?.stop()
  await callback?.close()
})

describe('passkeys in Chromium with a virtual authenticator', () => {
  test('the gateway runs on http://localhost (an RP ID), and the login page offers passkeys', async () => {
    expect(gateway.origin).toMatch(/^http:\/\/localhost:\d+$/)
    await page.goto(url('/auth/login'))
    await autofill(false)
    await page.reload()
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).resolves.toBe(true)
    expect(await page.getByLabel(/user ?name/i).getAttribute('autocomplete')).toBe('username webauthn')
  })

  test('a signed-in user adds a passkey from the passkeys page; no CSP violation', async () => {
    await passwordSignIn('alice')
    await addPasskey('Laptop')
    const credentials = await cdp.send('WebAuthn.getCredentials', { authenticatorId: firstAuthenticator })
    expect(credentials.credentials).toHaveLength(1)
    expect(credentials.credentials[0]?.isResidentCredential).toBe(true)
    await screenshot(page, 'passkeys-page')
    expect(pageProblems()).toEqual([])
  })

  test('signs out, then signs in with the username field’s autofill (conditional UI), no click', async () => {
    await autofill(false)
    await signOut()
    await autofill(true)
    await page.goto(url('/auth/login'))
    await page.waitForURL((at) => at.pathname === '/auth/account')
    expect(await page.locator('main').textContent()).toContain('a passkey')
    expect(pageProblems()).toEqual([])
  })

  test('signs out, then signs in with the "Sign in with a passkey" button', async () => {
    // Off before the sign-out lands on the login page, whose autofill request would answer itself.
    await autofill(false)
    await signOut()
    await page.goto(url('/auth/login?return_to=%2Fauth%2Fpasskeys'))
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await page.waitForURL((at) => at.pathname === '/auth/passkeys')
    expect(await page.locator('main').textContent()).toContain('Signed in as alice')
    expect(pageProblems()).toEqual([])
  })

  test('is the login step of an authorization code + PKCE flow', async () => {
    await signOut()
    const as = await discover(gateway.origin)
    const client = { client_id: CLIENT_ID }
    const redirectUri = `${callback.origin}/callback`
    const started = await startAuthorization(as, client, redirectUri, 'openid')
    await page.goto(started.url.href)
    expect(new URL(page.url()).pathname).toBe('/auth/login')
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await page.waitForURL((at) => at.href.startsWith(`${redirectUri}?`))
    const { response } = await codeGrantRequest(as, client, started, redirectUri, new URL(page.url()))
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: started.nonce,
      requireIdToken: true,
    })
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe(userIds.get('alice'))
  })

  test('deletes the passkey from the page (alice keeps her password)', async () => {
    await page.goto(url('/auth/passkeys'))
    await page.getByRole('button', { name: 'Delete passkey Laptop' }).click()
    await page.waitForURL((at) => at.pathname === '/auth/passkeys')
    expect(await page.locator('main').textContent()).toContain('You have no passkey yet.')
    expect(pageProblems()).toEqual([])
  })

  test("a second authenticator's real credential is refused for another user (forged userHandle)", async () => {
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: firstAuthenticator })
    const second = await addAuthenticator()
    await passwordSignIn('bob')
    await addPasskey('Bob key')
    await signOut()
    const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: second })).credentials
    if (!credential) throw new Error('no credential on the second authenticator')
    const key = await webcrypto.subtle.importKey(
      'pkcs8',
      Buffer.from(credential.privateKey, 'base64'),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    )
    const rpId = new URL(gateway.origin).hostname
    let counter = credential.signCount
    const assertion = async (challenge: string, userId: string) => {
      const clientData = Buffer.from(
        JSON.stringify({ type: 'webauthn.get', challenge, origin: gateway.origin, crossOrigin: false }),
      )
      counter++
      const authData = Buffer.concat([
        createHash('sha256').update(rpId).digest(),
        Buffer.from([0x05]),
        Buffer.from([(counter >>> 24) & 0xff, (counter >> 16) & 0xff, (counter >> 8) & 0xff, counter & 0xff]),
      ])
      const message = Buffer.concat([authData, createHash('sha256').update(clientData).digest()])
      const raw = new Uint8Array(
        await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, message),
      )
      const id = toBase64Url(Buffer.from(credential.credentialId, 'base64'))
      return {
        id,
        rawId: id,
        type: 'public-key',
        response: {
          clientDataJSON: toBase64Url(clientData),
          authenticatorData: toBase64Url(authData),
          signature: toBase64Url(derSignature(raw)),
          userHandle: toBase64Url(Buffer.from(userId)),
        },
      }
    }
    /** One sign-in from the login page's own origin and cookies, with the assertion built here. */
    const attempt = async (userId: string): Promise<number> => {
      const csrf = await page.locator('input[name=csrf]').inputValue()
      const options = await page.evaluate(async (token) => {
        const response = await fetch('/auth/passkeys/authentication-options', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ csrf: token }),
        })
        return (await response.json()) as { challenge: string }
      }, csrf)
      const body = {
        csrf,
        return_to: '/auth/account',
        credential: await assertion(options.challenge, userId),
      }
      return page.evaluate(async (payload) => {
        const response = await fetch('/auth/passkeys/authentication', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(payload),
        })
        return response.status
      }, body)
    }
    expect(await attempt(userIds.get('alice') as string)).toBe(401)
    // The same forgery with bob's own handle passes: the refusal above is the handle's.
    expect(await attempt(userIds.get('bob') as string)).toBe(200)
  })
})
