/**
 * What starts each email flow: issue the token (replacing the live one of its purpose), build the
 * link from ISSUER (never from the request's Host: a poisoned Host header must not put an
 * attacker's origin into a reset link), and hand the mail to `deliverLater`. Each records its
 * audit event; none puts a token in it.
 */
import type { User } from '../users'
import { type Delivery, deliverLater } from './mailer'
import { composeMail, type MailKind } from './templates'
import { issueLinkToken, issueSignInCode } from './token-store'

export const VERIFY_EMAIL_PATH = '/auth/verify-email'
export const RESET_PASSWORD_PATH = '/auth/reset-password'
export const FORGOT_PASSWORD_PATH = '/auth/forgot-password'
export const SIGN_IN_LINK_PATH = '/auth/sign-in-link'
export const EMAIL_CODE_PATH = '/auth/email-code'

type MailUser = Pick<User, 'id' | 'username'>

/** `ISSUER` + path + `?token=`: the only way a link in a mail is made. */
export function linkFor(issuer: string, path: string, token: string): string {
  return `${issuer.replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`
}

export interface FlowDelivery extends Delivery {
  db: D1Database
  productName: string
}

function compose(
  delivery: FlowDelivery,
  kind: MailKind,
  user: MailUser,
  to: string,
  extra: { link?: string; code?: string },
) {
  const mail = composeMail(delivery.settings, kind, {
    username: user.username,
    product: delivery.productName,
    ...extra,
  })
  deliverLater(delivery, { kind, to, userId: user.id, mail })
}

/** Mails a link that confirms `to` (the user's address; for a change, the pending new one). */
export async function sendVerificationMail(
  delivery: FlowDelivery,
  user: MailUser,
  to: string,
  purpose: 'verify_email' | 'email_change' = 'verify_email',
): Promise<void> {
  const token = await issueLinkToken(delivery.db, {
    userId: user.id,
    purpose,
    email: to,
    ttlSeconds: delivery.settings.link_ttl_seconds,
  })
  compose(delivery, purpose, user, to, { link: linkFor(delivery.issuer, VERIFY_EMAIL_PATH, token) })
  delivery.audit?.record({
    type: 'email_verification_sent',
    actorId: user.id,
    subjectId: user.id,
    details: { purpose },
  })
}

/** Mails a reset link to the user's address. */
export async function sendPasswordReset(delivery: FlowDelivery, user: MailUser, to: string): Promise<void> {
  const token = await issueLinkToken(delivery.db, {
    userId: user.id,
    purpose: 'password_reset',
    email: to,
    ttlSeconds: delivery.settings.link_ttl_seconds,
  })
  compose(delivery, 'password_reset', user, to, {
    link: linkFor(delivery.issuer, RESET_PASSWORD_PATH, token),
  })
}

/** Where a sign-in link was asked for: the asking browser (its binding's hash) and where it goes next. */
export interface SignInLinkOrigin {
  browserHash: string
  returnTo: string
}

/** Mails a sign-in link bound to the browser that asked for it. */
export async function sendSignInLink(
  delivery: FlowDelivery,
  user: MailUser,
  to: string,
  origin: SignInLinkOrigin,
): Promise<void> {
  const token = await issueLinkToken(delivery.db, {
    userId: user.id,
    purpose: 'sign_in_link',
    email: to,
    ttlSeconds: delivery.settings.link_ttl_seconds,
    ...origin,
  })
  compose(delivery, 'sign_in_link', user, to, { link: linkFor(delivery.issuer, SIGN_IN_LINK_PATH, token) })
}

/** Mails a 6-digit sign-in code. */
export async function sendSignInCode(delivery: FlowDelivery, user: MailUser, to: string): Promise<void> {
  const code = await issueSignInCode(delivery.db, {
    userId: user.id,
    email: to,
    ttlSeconds: delivery.settings.code_ttl_seconds,
  })
  compose(delivery, 'sign_in_code', user, to, { code })
}

/** Tells an address's holder that someone tried to use it (to register, or in a change): no 409. */
export function sendAddressInUse(delivery: FlowDelivery, owner: MailUser, to: string): void {
  compose(delivery, 'address_in_use', owner, to, {
    link: `${delivery.issuer.replace(/\/$/, '')}${FORGOT_PASSWORD_PATH}`,
  })
}

/** Tells the old address that a change to another one is pending. */
export function sendChangeNotice(delivery: FlowDelivery, user: MailUser, oldAddress: string): void {
  compose(delivery, 'email_change_notice', user, oldAddress, {})
}
