/**
 * What the email tests share: a gateway whose `EMAIL` binding records what it is handed (and still
 * sends through the real one, so the dev mailbox keeps its copy), the forms' CSRF token, and the
 * links in a mail. The dev mailbox needs DEV_MAILBOX=1 and a loopback ISSUER, as under `npm start`.
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

export function gateway(sent: Sent[] = [], extra: Record<string, unknown> = {}) {
  const overrides = { ISSUER, DEV_MAILBOX: '1', EMAIL: recordingBinding(sent), ...extra }
  return (path: string, init: RequestInit = {}) => fetchWithEnv(overrides, path, init)
}
export type Through = ReturnType<typeof gateway>

/** SETTINGS with `email` settings changed (the rest as wrangler.toml has them). */
export function withEmailSettings(email: Record<string, unknown>): { SETTINGS: unknown } {
  const settings = env.SETTINGS as { email?: object }
  return { SETTINGS: { ...settings, email: { ...settings.email, ...email } } }
}

export async function openForm(through: Through, path: string, cookie = '') {
  const response = await through(path, cookie ? { headers: { cookie } } : {})
  const html = await response.text()
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const set = setCookies(response).get('gw_csrf')?.value
  return { response, html, csrf, cookie: set ? `gw_csrf=${set}` : cookie }
}

export async function post(
  through: Through,
  path: string,
  fields: Record<string, string>,
  cookie: string,
  headers: Record<string, string> = {},
) {
  return through(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ISSUER, cookie, ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

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

/** A page's HTML without its CSRF token (which differs per browser), to compare two answers. */
export function withoutCsrf(html: string): string {
  return html.replace(/name="csrf" value="[^"]+"/g, '')
}

/** Opens an emailed verify link's page and presses Confirm. */
export async function confirmLink(through: Through, link: URL): Promise<Response> {
  const form = await openForm(through, `${link.pathname}${link.search}`)
  const token = link.searchParams.get('token') ?? ''
  return post(through, link.pathname, { csrf: form.csrf, token }, form.cookie)
}
