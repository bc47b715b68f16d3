/**
 * A signed-in user's own address: changing (or adding) it, and mailing the verification link
 * again. The caller has checked the session, its CSRF token, a recent sign-in (for a change) and
 * the throttle; what happens here answers the same whoever holds the new address.
 *
 * A change takes effect only when the link mailed to the new address is confirmed
 * (routes.ts, `email_change`). An address another user holds **verified** gets no confirmation
 * link, which could only fail at its POST: its holder is mailed the "address in use" notice
 * instead, so the holder learns someone tried, and the requester sees the same answer as for a
 * free address (no enumeration). An unverified holder does not block: confirming wins over it.
 */
import { findUserByEmail, type User } from '../users'
import { type FlowDelivery, sendAddressInUse, sendChangeNotice, sendVerificationMail } from './flows'
import { endEmailTokens } from './token-store'

type Requester = Pick<User, 'id' | 'username' | 'email' | 'emailVerified'>

/**
 * Starts a change of `user`'s address to `to` (normalized). Ends the user's live emailed tokens at
 * once (a reset link in the old mailbox dies with the request), mails the new address a
 * confirmation link and the old one (if any) a notice. Returns false when `to` already is the
 * user's address (nothing is sent).
 */
export async function requestAddressChange(
  delivery: FlowDelivery,
  user: Requester,
  to: string,
): Promise<boolean> {
  if (user.email === to) return false
  const holder = await findUserByEmail(delivery.db, to)
  await endEmailTokens(delivery.db, user.id)
  const heldVerified = holder !== undefined && holder.id !== user.id && holder.emailVerified
  delivery.audit?.record({
    type: 'email_change_requested',
    actorId: user.id,
    subjectId: user.id,
    // For the operator only: the page says the same either way.
    details: { taken: heldVerified },
  })
  if (heldVerified && holder.email) sendAddressInUse(delivery, holder, holder.email)
  else delivery.waitUntil(sendVerificationMail(delivery, user, to, 'email_change'))
  if (user.email) sendChangeNotice(delivery, user, user.email)
  return true
}

/** Mails the verification link of the user's unverified address again; false when there is none. */
export function resendVerification(delivery: FlowDelivery, user: Requester): boolean {
  if (!user.email || user.emailVerified) return false
  delivery.waitUntil(sendVerificationMail(delivery, user, user.email))
  return true
}
