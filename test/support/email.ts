/**
 * The email flows through a fresh app with a loopback ISSUER and the dev mailbox on (as under
 * `npm start`), and the real `EMAIL` binding wrapped so a test sees what the gateway handed it.
 * Miniflare's send_email simulation writes files the Worker cannot read: tests read the record
 * here or the dev mailbox copy.
 */
import { env } from 'cloudflare:test'
import { expect } from 'vitest'
import { setUserEmail } from '../../src/users/store'
import { createUser } from './accounts'
import { fetchWithEnv } from './gateway'
import { setCookies } from './sessions'

export const ISSUER = 'http://127.0.0.1:8787'

export interface Sent {
  from: unknown
  to: unknown
  subject: string
  text?: string
}

/** The real binding, with what the gateway hands it recorded on the way through. */
function recordingBinding(sent: Sent[]): SendEmail {
  const real = env.EMAIL as SendEmail
  return {
    send(message: EmailMessageBuilder) {
      sent.push(message as Sent)
      return real.send(message)
    },
  } as SendEmail
}

/** A fetch through the gateway that records every mail into `sent` (waitUntil work included). */
export function mailGateway(sent: Sent[] = [], extra: Record<string, unknown> = {}) {
  const overrides = { ISSUER, DEV_MAILBOX: '1', EMAIL: recordingBinding(sent), ...extra }
  return (path: string, init: RequestInit = {}) => fetchWithEnv(overrides, path, init)
}
export type Through = ReturnType<typeof mailGateway>

/** GET a page with a form: its CSRF field and the pre-session CSRF cookie it set. */
export async function openForm(through: Through, path: string, headers: Record<string, string> = {}) {
  const response = await through(path, { headers })
  const html = await response.text()
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const cookie = setCookies(response).get('gw_csrf')?.value
  return { response, html, csrf, cookie: cookie ? `gw_csrf=${cookie}` : '' }
}

/** A same-origin form POST (Origin = ISSUER). */
export async function postForm(
  through: Through,
  path: string,
  fields: Record<string, string>,
  cookie: string,
  headers: Record<string, string> = {},
) {
  return through(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ISSUER, cookie, ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

/** The `path?token=…` link in a mail's text. */
export function linkIn(text: string, path: string): URL {
  const match = new RegExp(`https?://\\S+${path}\\?token=\\S+`).exec(text)
  if (!match) throw new Error(`no ${path} link in: ${text}`)
  return new URL(match[0])
}

export async function userWithEmail(name: string, email: string, verified = true) {
  const user = await createUser(name)
  expect(await setUserEmail(env.DB, user.id, email, verified)).toBe(true)
  return user
}

/** Opens an emailed verify link's page and presses Confirm. */
export async function confirmLink(through: Through, link: URL): Promise<Response> {
  const form = await openForm(through, `${link.pathname}${link.search}`)
  const token = link.searchParams.get('token') ?? ''
  return postForm(through, link.pathname, { csrf: form.csrf, token }, form.cookie)
}
