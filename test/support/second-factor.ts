/**
 * What the second-factor tests do as a user would: read the secret off the setup page, compute
 * codes from it (RFC 6238 with WebCrypto, independent of the library the gateway uses), sign in
 * with the password form and answer the second step.
 */
import { expect } from 'vitest'
import { createUser } from './accounts'
import { GATEWAY, gatewayFetch } from './gateway'
import { type BrowserLogin, browserLogin, openLoginForm, sameOrigin, setCookies } from './sessions'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function base32Decode(text: string): Uint8Array {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of text.replace(/\s/g, '').toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(char)
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return new Uint8Array(out)
}

export function currentStep(): number {
  return Math.floor(Date.now() / 1000 / 30)
}

/** RFC 6238 (HMAC-SHA-1, 6 digits) at time step `step`. */
export async function totpCode(secret: string, step: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    base32Decode(secret),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  )
  const counter = new Uint8Array(8)
  new DataView(counter.buffer).setBigUint64(0, BigInt(step))
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, counter))
  const offset = (mac[19] as number) & 0x0f
  const number =
    (((mac[offset] as number) & 0x7f) << 24) |
    ((mac[offset + 1] as number) << 16) |
    ((mac[offset + 2] as number) << 8) |
    (mac[offset + 3] as number)
  return String(number % 1_000_000).padStart(6, '0')
}

/** Six digits that are no valid code of `secret` now (none of the three steps of the window). */
export async function wrongCode(secret: string): Promise<string> {
  const step = currentStep()
  const valid = new Set(await Promise.all([-1, 0, 1, 2].map((d) => totpCode(secret, step + d))))
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0')
    if (!valid.has(code)) return code
  }
}

export function field(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? ''
}

export function pageOf(browser: BrowserLogin, path: string): Promise<Response> {
  return gatewayFetch(path, { redirect: 'manual', headers: { cookie: browser.cookie, accept: 'text/html' } })
}

export function postForm(
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string>,
): Promise<Response> {
  return gatewayFetch(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
    body: new URLSearchParams(fields),
  })
}

export interface Enrolled {
  userId: string
  username: string
  secret: string
  recoveryCodes: string[]
  /** The signed-in browser that enrolled. */
  browser: BrowserLogin
  /** The step the confirming code used (the next code must be for a later one). */
  usedStep: number
}

/** A new user signs in, opens the setup page, scans (reads) the secret and confirms a first code. */
export async function enrolNewUser(username: string, roles: string[] = ['user']): Promise<Enrolled> {
  const user = await createUser(username, roles)
  const browser = await browserLogin(username, { returnTo: '/auth/account' })
  expect(browser.response.status).toBe(303)
  const setup = await pageOf(browser, '/auth/second-factor/setup')
  expect(setup.status).toBe(200)
  const html = await setup.text()
  expect(html).toContain('<svg')
  const secret = (/<code id="secret">([A-Z2-7 ]+)<\/code>/.exec(html)?.[1] ?? '').replace(/ /g, '')
  expect(secret).toMatch(/^[A-Z2-7]{32}$/)
  const usedStep = currentStep()
  const confirmed = await postForm(
    '/auth/second-factor/setup',
    {
      csrf: field(html, 'csrf'),
      enrolment: field(html, 'enrolment'),
      code: await totpCode(secret, usedStep),
    },
    sameOrigin(browser),
  )
  const page = await confirmed.text()
  expect(confirmed.status).toBe(200)
  const recoveryCodes = [...page.matchAll(/<code>([a-z2-7]{5}-[a-z2-7]{5})<\/code>/g)].map(
    (m) => m[1] as string,
  )
  expect(recoveryCodes).toHaveLength(10)
  return { userId: user.id, username, secret, recoveryCodes, browser, usedStep }
}

export interface PendingSignIn {
  /** The 303 of the password form. */
  response: Response
  /** Cookie header of this browser: the pending sign-in and the pre-session CSRF cookie. */
  cookie: string
  csrf: string
}

/** The password form for a user with a second factor: no session yet, a pending sign-in. */
export async function passwordStep(username: string, returnTo = '/app/'): Promise<PendingSignIn> {
  const form = await openLoginForm()
  const csrfCookie = `${form.names.csrf}=${form.csrfCookie}`
  const response = await postForm(
    '/auth/login',
    { username, password: 'correct horse battery staple', csrf: form.csrfField, return_to: returnTo },
    { cookie: csrfCookie, 'sec-fetch-site': 'same-origin', origin: GATEWAY },
  )
  const pending = setCookies(response).get('gw_pending')?.value ?? ''
  return { response, cookie: `gw_pending=${pending}; ${csrfCookie}`, csrf: form.csrfField }
}

/** POST /auth/second-factor from the pending browser, same-origin, with its CSRF field. */
export function answer(pending: PendingSignIn, fields: Record<string, string>, cookie = pending.cookie) {
  return postForm(
    '/auth/second-factor',
    { csrf: pending.csrf, ...fields },
    { cookie, 'sec-fetch-site': 'same-origin', origin: GATEWAY },
  )
}
