/**
 * The account page's email forms (issue 23): changing or adding the address (a recent sign-in,
 * the session's CSRF token, a confirmation link to the new address, a notice to the old one, the
 * same answer whoever holds the new address) and mailing the verification link again (throttled).
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import {
  confirmLink,
  gateway,
  ISSUER,
  linkIn,
  openForm,
  post,
  type Sent,
  type Through,
  userWithEmail,
  withEmailSettings,
} from '../../test/support/email'
import { browserLogin } from '../../test/support/sessions'
import { issueLinkToken } from '../email/token-store'

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', accept: 'text/html' }

interface Signed {
  through: Through
  sent: Sent[]
  cookie: string
  csrf: string
}

/** A browser signed in through the login form, and the account page's CSRF field. */
async function signedIn(username: string, extra: Record<string, unknown> = {}): Promise<Signed> {
  const sent: Sent[] = []
  const through = gateway(sent, extra)
  const login = await browserLogin(username, { through, headers: { origin: ISSUER } })
  expect(login.session).not.toBe('')
  const page = await openForm(through, '/auth/account', login.cookie)
  expect(page.response.status).toBe(200)
  return { through, sent, cookie: login.cookie, csrf: page.csrf }
}

function changeTo(browser: Signed, email: string, fields: Record<string, string> = {}) {
  return post(
    browser.through,
    '/auth/account/email',
    { csrf: browser.csrf, email, ...fields },
    browser.cookie,
    SAME_ORIGIN,
  )
}

function resend(browser: Signed) {
  return post(
    browser.through,
    '/auth/account/email/verification',
    { csrf: browser.csrf },
    browser.cookie,
    SAME_ORIGIN,
  )
}

/** A live emailed link of the user's, as a flow would have mailed it. */
function pendingLink(userId: string, purpose: 'password_reset' | 'verify_email', email: string) {
  return issueLinkToken(env.DB, { userId, purpose, email, ttlSeconds: 600 })
}

function emailOf(userId: string) {
  return env.DB.prepare('SELECT email, email_verified FROM users WHERE id = ?1')
    .bind(userId)
    .first<{ email: string | null; email_verified: number }>()
}

function auditTypes(userId: string) {
  return env.DB.prepare('SELECT type FROM audit_events WHERE subject_id = ?1 ORDER BY id')
    .bind(userId)
    .all<{ type: string }>()
    .then(({ results }) => results.map((row) => row.type))
}

/** The notice of the account page an answer shows (no CSRF field, no dates). */
async function noticeOf(response: Response): Promise<string> {
  const html = await response.text()
  return /id="account-notice"[^>]*>([^<]*)</.exec(html)?.[1] ?? ''
}

describe('changing the address from the account page', () => {
  it('mails a link to the new address and a notice to the old one; only confirming changes it, and a pending reset link to the old address dies', async () => {
    const user = await userWithEmail('ae-change', 'ae-old@example.com')
    const reset = await pendingLink(user.id, 'password_reset', 'ae-old@example.com')
    const browser = await signedIn('ae-change')
    const response = await changeTo(browser, ' ae-New@EXAMPLE.com ')
    expect(response.status).toBe(200)
    expect(await noticeOf(response)).toContain('We mailed a link to ae-New@example.com')
    expect(browser.sent.map((mail) => [mail.to, mail.subject])).toEqual([
      ['ae-old@example.com', 'Your Edge Auth Gateway (local) email address is being changed'],
      ['ae-New@example.com', 'Confirm your new email address for Edge Auth Gateway (local)'],
    ])
    // Not yet: the old address stays until the new one confirms.
    expect(await emailOf(user.id)).toEqual({ email: 'ae-old@example.com', email_verified: 1 })
    // The reset link mailed to the old address ended with the request.
    expect((await browser.through(`/auth/reset-password?token=${reset}`)).status).toBe(400)

    const link = linkIn(browser.sent[1]?.text ?? '', '/auth/verify-email')
    expect(link.origin).toBe(ISSUER)
    expect((await confirmLink(browser.through, link)).status).toBe(200)
    expect(await emailOf(user.id)).toEqual({ email: 'ae-New@example.com', email_verified: 1 })
    expect(await auditTypes(user.id)).toEqual(
      expect.arrayContaining(['email_change_requested', 'email_verification_sent', 'email_changed']),
    )
  })

  it('adds an address to an account without one (no notice to mail), verified once confirmed', async () => {
    const user = await createUser('ae-add')
    const browser = await signedIn('ae-add')
    expect((await changeTo(browser, 'ae-add@example.com')).status).toBe(200)
    expect(browser.sent.map((mail) => mail.to)).toEqual(['ae-add@example.com'])
    expect((await emailOf(user.id))?.email).toBeNull()
    await confirmLink(browser.through, linkIn(browser.sent[0]?.text ?? '', '/auth/verify-email'))
    expect(await emailOf(user.id)).toEqual({ email: 'ae-add@example.com', email_verified: 1 })
  })

  it('enumeration: an address another user holds verified gets the same answer, no confirmation link, and its holder a notice', async () => {
    await userWithEmail('ae-holder', 'ae-held@example.com')
    await createUser('ae-asker')
    await createUser('ae-asker-free')
    const taken = await signedIn('ae-asker')
    const free = await signedIn('ae-asker-free')
    const takenAnswer = await changeTo(taken, 'ae-held@example.com')
    const freeAnswer = await changeTo(free, 'ae-unheld@example.com')
    expect(takenAnswer.status).toBe(freeAnswer.status)
    expect((await noticeOf(takenAnswer)).replace('ae-held', 'X')).toBe(
      (await noticeOf(freeAnswer)).replace('ae-unheld', 'X'),
    )
    expect(taken.sent.map((mail) => [mail.to, mail.subject])).toEqual([
      ['ae-held@example.com', 'Someone tried to use your address at Edge Auth Gateway (local)'],
    ])
    expect(taken.sent[0]?.text).toContain('"ae-holder"')
    expect(taken.sent[0]?.text).not.toContain('/auth/verify-email')
    const rows = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM email_tokens WHERE email = 'ae-held@example.com'",
    ).first('n')
    expect(rows).toBe(0)
  })

  it('a verified holder wins over an unverified one: confirming takes the address from an unverified holder', async () => {
    const squatter = await userWithEmail('ae-squatter', 'ae-claimed@example.com', false)
    const user = await createUser('ae-owner')
    const browser = await signedIn('ae-owner')
    await changeTo(browser, 'ae-claimed@example.com')
    expect(browser.sent.map((mail) => mail.to)).toEqual(['ae-claimed@example.com'])
    await confirmLink(browser.through, linkIn(browser.sent[0]?.text ?? '', '/auth/verify-email'))
    expect(await emailOf(user.id)).toEqual({ email: 'ae-claimed@example.com', email_verified: 1 })
    expect((await emailOf(squatter.id))?.email).toBeNull()
  })

  it('needs a recent sign-in: an older one goes to the login page and nothing is mailed or ended', async () => {
    const user = await userWithEmail('ae-stale', 'ae-stale@example.com')
    await pendingLink(user.id, 'password_reset', 'ae-stale@example.com')
    const browser = await signedIn('ae-stale')
    await env.DB.prepare('UPDATE sessions SET auth_time = auth_time - 3600 WHERE user_id = ?1')
      .bind(user.id)
      .run()
    const response = await changeTo(browser, 'ae-stale-new@example.com')
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/login?return_to=%2Fauth%2Faccount')
    expect(browser.sent).toEqual([])
    const tokens = await env.DB.prepare('SELECT COUNT(*) AS n FROM email_tokens WHERE user_id = ?1')
      .bind(user.id)
      .first('n')
    expect(tokens).toBe(1)
  })

  it("CSRF: a form without the session's token, or from another site, is 403 and mails nothing", async () => {
    await createUser('ae-csrf')
    const browser = await signedIn('ae-csrf')
    const noToken = await changeTo(browser, 'ae-csrf@example.com', { csrf: '' })
    expect(noToken.status).toBe(403)
    const crossSite = await post(
      browser.through,
      '/auth/account/email',
      { csrf: browser.csrf, email: 'ae-csrf@example.com' },
      browser.cookie,
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example', accept: 'text/html' },
    )
    expect(crossSite.status).toBe(403)
    expect(browser.sent).toEqual([])
  })

  it('refuses what is not an address (400), mailing nothing', async () => {
    await createUser('ae-bad')
    const browser = await signedIn('ae-bad')
    const response = await changeTo(browser, 'not an address')
    expect(response.status).toBe(400)
    expect(await noticeOf(response)).toContain('Enter a valid email address')
    expect(browser.sent).toEqual([])
  })

  it('throttles per submitted address (429 with Retry-After)', async () => {
    await createUser('ae-flood')
    const browser = await signedIn('ae-flood', withEmailSettings({ per_address_per_hour: 2 }))
    const statuses: number[] = []
    let last: Response | undefined
    for (const address of ['ae-flood-a@example.com', 'ae-flood-b@example.com', 'ae-flood-a@example.com']) {
      last = await changeTo(browser, address)
      statuses.push(last.status)
    }
    // Two per address: a, b and a again pass; a third for a does not.
    last = await changeTo(browser, 'ae-flood-a@example.com')
    statuses.push(last.status)
    expect(statuses).toEqual([200, 200, 200, 429])
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})

describe('mailing the verification link again', () => {
  it('mails a new link for an unverified address (the earlier one dies), throttled per address, audited', async () => {
    const user = await userWithEmail('ae-resend', 'ae-resend@example.com', false)
    const earlier = await pendingLink(user.id, 'verify_email', 'ae-resend@example.com')
    const browser = await signedIn('ae-resend')
    const page = await (
      await browser.through('/auth/account', { headers: { cookie: browser.cookie, accept: 'text/html' } })
    ).text()
    expect(page).toContain('Send the link again')
    const response = await resend(browser)
    expect(response.status).toBe(200)
    expect(await noticeOf(response)).toBe('We mailed a new link to ae-resend@example.com.')
    expect(browser.sent.map((mail) => mail.to)).toEqual(['ae-resend@example.com'])
    expect((await browser.through(`/auth/verify-email?token=${earlier}`)).status).toBe(400)
    expect(await auditTypes(user.id)).toContain('email_verification_sent')

    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await resend(browser)).status)
    // Five per address per hour (the default): the first resend and four more, then 429.
    expect(statuses).toEqual([200, 200, 200, 200, 429])
    await confirmLink(browser.through, linkIn(browser.sent.at(-1)?.text ?? '', '/auth/verify-email'))
    expect(await emailOf(user.id)).toEqual({ email: 'ae-resend@example.com', email_verified: 1 })
  })

  it('has nothing to send for a verified address or none (400)', async () => {
    await userWithEmail('ae-verified', 'ae-verified@example.com')
    const browser = await signedIn('ae-verified')
    const page = await (
      await browser.through('/auth/account', { headers: { cookie: browser.cookie, accept: 'text/html' } })
    ).text()
    expect(page).not.toContain('Send the link again')
    expect((await resend(browser)).status).toBe(400)
    expect(browser.sent).toEqual([])
  })
})
