/**
 * Email in a real browser (issue 23): Debian's Chromium against the real gateway (`npm start`:
 * open registration, the dev mailbox on), with the sign-in link and the emailed code turned on,
 * which the shipped configuration keeps off (hence a gateway of its own, not the shared one). One
 * browser walks the story: register with an address, open the verification link from the dev
 * mailbox and confirm it, sign in, forget the password in a second browser, reset it from the
 * emailed link, and sign in with the new one; the first browser's session and a refresh token
 * issued before the reset are dead, and the link does not work twice. Then a sign-in link opened
 * in the browser that asked for it and in another one (which is asked first), and an emailed code.
 * The pages are screenshotted for docs/email.md.
 *
 * Time budget: ~35 s on a 2-core machine (one gateway, one Chromium).
 */
import { randomUUID } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { launchChromium, type PageProblems, screenshot, watchProblems } from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'

const FIRST_PASSWORD = 'correct horse battery staple by email'
const NEW_PASSWORD = 'a brand new passphrase after the reset'

const suffix = randomUUID().slice(0, 8)
const USERNAME = `mail-${suffix}`
const ADDRESS = `Mail.${suffix}@Example.COM`
const NORMALIZED = `Mail.${suffix}@example.com`

let gateway: RunningGateway
let browser: Browser
let first: BrowserContext
let second: BrowserContext
let page: Page
let problems: PageProblems

const url = (path: string): string => `${gateway.origin}${path}`

interface Mail {
  to: string
  subject: string
  text: string
}

/** The newest mail to the address whose subject matches, read from the dev mailbox's JSON. */
async function mailTo(address: string, subject: RegExp): Promise<Mail> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const response = await fetch(url(`/dev/mailbox?to=${encodeURIComponent(address)}`), {
      headers: { accept: 'application/json' },
    })
    expect(response.status).toBe(200)
    const { items } = (await response.json()) as { items: Mail[] }
    const found = items.find((mail) => subject.test(mail.subject))
    if (found) return found
    // The mail goes out after the response (waitUntil).
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no mail to ${address} matching ${subject}`)
}

function linkIn(mail: Mail): string {
  const link = /https?:\/\/\S+\?token=\S+/.exec(mail.text)?.[0]
  if (!link) throw new Error(`no link in the mail "${mail.subject}"`)
  return link
}

const bodyText = async (target: Page): Promise<string> => (await target.locator('body').textContent()) ?? ''

async function signInWithPassword(target: Page, password: string): Promise<void> {
  await target.goto(url('/auth/login'))
  await target.fill('#username', USERNAME)
  await target.fill('#password', password)
  await Promise.all([
    target.waitForURL(/\/auth\/account/),
    target.click('form[action="/auth/login"] button[type=submit]'),
  ])
}

async function passwordGrant(password: string): Promise<Response> {
  return fetch(url('/auth/token'), {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', username: USERNAME, password }),
  })
}

/** Problems the gateway's pages caused (Chromium's own favicon request aside). */
function pageProblems(): string[] {
  return problems.take().filter((problem) => !/favicon\.ico/.test(problem))
}

beforeAll(async () => {
  gateway = await startGateway({
    prepare: async (dir) => {
      const config = join(dir, 'wrangler.toml')
      const text = await readFile(config, 'utf8')
      const on = text
        .replace('sign_in_link = false', 'sign_in_link = true')
        .replace('sign_in_code = false', 'sign_in_code = true')
      if (on === text)
        throw new Error(
          'wrangler.toml no longer has the sign_in_link / sign_in_code lines this test turns on',
        )
      await writeFile(config, on)
    },
  })
  browser = await launchChromium()
  first = await browser.newContext()
  second = await browser.newContext()
  problems = await watchProblems(first)
  await watchProblems(second)
  page = await first.newPage()
})

afterAll(async () => {
  await browser?.close()
  await gateway?.stop()
})

describe('email in a browser', () => {
  let refreshToken: string

  test('registering with an address mails a verification link; opening it confirms the address', async () => {
    await page.goto(url('/auth/register'))
    await page.fill('#username', USERNAME)
    await page.fill('#password', FIRST_PASSWORD)
    await page.fill('#email', ADDRESS)
    await screenshot(page, 'email-register')
    await Promise.all([page.waitForURL(/\/auth\/login/), page.click('button[type=submit]')])

    const mail = await mailTo(NORMALIZED, /confirm|verify/i)
    const link = linkIn(mail)
    // Built from ISSUER, whatever the request's Host was.
    expect(new URL(link).origin).toBe(gateway.origin)

    await page.goto(url(`/dev/mailbox?to=${encodeURIComponent(NORMALIZED)}`))
    await screenshot(page, 'email-dev-mailbox')
    await page.goto(link)
    expect(await page.locator('#link-account').textContent()).toBe(USERNAME)
    await screenshot(page, 'email-verify')
    await page.click('button[type=submit]')
    expect(await page.locator('#link-done').textContent()).toContain(NORMALIZED)
    await screenshot(page, 'email-verified')
    expect(pageProblems()).toEqual([])
  })

  test('the first browser signs in and an app holds a refresh token', async () => {
    await signInWithPassword(page, FIRST_PASSWORD)
    const grant = await passwordGrant(FIRST_PASSWORD)
    expect(grant.status).toBe(200)
    refreshToken = ((await grant.json()) as { refresh_token: string }).refresh_token
    expect(refreshToken).toBeTruthy()
  })

  test('a second browser resets the password from the emailed link and is signed in with it', async () => {
    const other = await second.newPage()
    await other.goto(url('/auth/login'))
    await Promise.all([
      other.waitForURL(/\/auth\/forgot-password/),
      other.click('text=Forgot your password?'),
    ])
    await other.fill('#email', NORMALIZED)
    await screenshot(other, 'email-forgot-password')
    await other.click('button[type=submit]')
    await other.locator('#forgot-sent').waitFor()
    await screenshot(other, 'email-forgot-sent')

    const link = linkIn(await mailTo(NORMALIZED, /password/i))
    expect(new URL(link).origin).toBe(gateway.origin)
    await other.goto(link)
    expect(await other.locator('#reset-account').textContent()).toBe(USERNAME)
    await other.fill('#password', NEW_PASSWORD)
    await screenshot(other, 'email-reset-password')
    await other.click('button[type=submit]')
    await other.goto(url('/auth/account'))
    expect(other.url()).toContain('/auth/account')
    expect(await bodyText(other)).toContain(USERNAME)

    // The link works once.
    await other.goto(link)
    expect(await other.locator('#link-dead').isVisible()).toBe(true)
    await screenshot(other, 'email-link-used')
    await other.close()
  })

  test("the reset ended the first browser's session and the refresh token issued before it", async () => {
    await page.goto(url('/auth/account'))
    expect(page.url()).toContain('/auth/login')

    const refreshed = await fetch(url('/auth/token'), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    })
    expect(refreshed.status).toBe(400)
    expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_grant')
  })

  test('the old password is refused and the new one signs in', async () => {
    expect((await passwordGrant(FIRST_PASSWORD)).status).toBe(400)
    await signInWithPassword(page, NEW_PASSWORD)
    expect(await bodyText(page)).toContain(USERNAME)
    expect(pageProblems()).toEqual([])
  })

  test('a sign-in link signs in the browser that asked for it; another browser is asked first', async () => {
    const fresh = await browser.newContext()
    const asking = await fresh.newPage()
    await asking.goto(url('/auth/login'))
    await asking.fill('#sign-in-email', NORMALIZED)
    await screenshot(asking, 'email-login-by-email')
    await asking.click('button[name=kind][value=link]')
    await asking.locator('#sign-in-link-sent').waitFor()
    await screenshot(asking, 'email-sign-in-link-sent')

    const link = linkIn(await mailTo(NORMALIZED, /sign-in link/i))
    // Another browser (the second context has no binding cookie) is asked before it is signed in.
    const elsewhere = await second.newPage()
    await elsewhere.goto(link)
    expect(await elsewhere.locator('#other-browser').isVisible()).toBe(true)
    await screenshot(elsewhere, 'email-sign-in-link-other-browser')
    await elsewhere.close()

    // The browser that asked: named account, one button, signed in; the link is then spent.
    await asking.goto(link)
    expect(await asking.locator('#link-account').textContent()).toBe(USERNAME)
    expect(await asking.locator('#other-browser').count()).toBe(0)
    await screenshot(asking, 'email-sign-in-link')
    await Promise.all([asking.waitForURL(/\/auth\/account/), asking.click('button[type=submit]')])
    expect(await bodyText(asking)).toContain(USERNAME)
    await asking.goto(link)
    expect(await asking.locator('#link-dead').isVisible()).toBe(true)
    await fresh.close()
  })

  test('an emailed code signs in; a wrong one is refused', async () => {
    const fresh = await browser.newContext()
    const asking = await fresh.newPage()
    await asking.goto(url('/auth/login'))
    await asking.fill('#sign-in-email', NORMALIZED)
    await asking.click('button[name=kind][value=code]')
    await asking.locator('#sign-in-code-sent').waitFor()
    const mail = await mailTo(NORMALIZED, /sign-in code/i)
    const code = /\b(\d{6})\b/.exec(mail.subject)?.[1]
    expect(code).toMatch(/^\d{6}$/)

    await asking.fill('#code', code === '000000' ? '111111' : '000000')
    await asking.click('button[type=submit]')
    expect(await asking.locator('#code-error').isVisible()).toBe(true)
    await asking.fill('#code', code ?? '')
    await screenshot(asking, 'email-sign-in-code')
    await Promise.all([asking.waitForURL(/\/auth\/account/), asking.click('button[type=submit]')])
    expect(await bodyText(asking)).toContain(USERNAME)
    await fresh.close()
    expect(pageProblems()).toEqual([])
  })
})
