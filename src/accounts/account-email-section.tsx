/**
 * The account page's email section: the address and whether it is verified, a button that mails
 * the verification link again, and the form that changes (or adds) the address. Both forms carry
 * the session's CSRF token; the change needs a recent sign-in (the route sends an older one to
 * the login page first).
 */

export interface EmailView {
  address: string | null
  verified: boolean
  /** `factor_change_max_auth_age_seconds` in minutes: how recent a sign-in a change needs. */
  reauthMinutes: number
}

export const ACCOUNT_EMAIL_PATH = '/auth/account/email'
export const ACCOUNT_EMAIL_VERIFICATION_PATH = '/auth/account/email/verification'

function Status(props: { email: EmailView; csrfToken: string }) {
  const { address, verified } = props.email
  if (address === null) return <p id="email-status">Your account has no email address.</p>
  return (
    <>
      <p id="email-status">
        <strong>{address}</strong> <span class="badge">{verified ? 'verified' : 'not verified'}</span>
      </p>
      {!verified && (
        <form method="post" action={ACCOUNT_EMAIL_VERIFICATION_PATH}>
          <input type="hidden" name="csrf" value={props.csrfToken} />
          <p class="muted">Confirm it by opening the link we mailed to it.</p>
          <button class="secondary" type="submit">
            Send the link again
          </button>
        </form>
      )}
    </>
  )
}

export function EmailSection(props: { email: EmailView; csrfToken: string }) {
  const change = props.email.address === null ? 'Add an address' : 'Change the address'
  return (
    <section aria-labelledby="email">
      <h2 id="email">Email address</h2>
      <Status email={props.email} csrfToken={props.csrfToken} />
      <form method="post" action={ACCOUNT_EMAIL_PATH}>
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <label for="new-email">New address</label>
        <input id="new-email" name="email" type="email" autocomplete="email" required />
        <p class="muted">
          We mail a link to the new address; it takes the old one's place when you open it. This needs a
          sign-in within the last {props.email.reauthMinutes} minutes (you may be asked to sign in again).
        </p>
        <button type="submit">{change}</button>
      </form>
    </section>
  )
}
