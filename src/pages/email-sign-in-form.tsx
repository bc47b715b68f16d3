/**
 * "Email me a sign-in link" / "Email me a code": the login page's second form, also the page a
 * refused request shows again (src/email/sign-in-routes.ts). Which buttons appear follows
 * SETTINGS.email.sign_in_link and sign_in_code; with both off there is no form.
 */

import { EmailInput } from './credential-fields'

/** The endpoint the form posts to (src/email/sign-in-routes.ts). */
export const EMAIL_SIGN_IN_PATH = '/auth/email-sign-in'

export interface EmailSignInOptions {
  link: boolean
  code: boolean
}

export function EmailSignInForm(props: {
  csrfToken: string
  returnTo: string
  offer: EmailSignInOptions
  email?: string
  errorId?: string
}) {
  if (!props.offer.link && !props.offer.code) return null
  return (
    <form method="post" action={EMAIL_SIGN_IN_PATH} class="providers" aria-label="Sign in by email">
      <input type="hidden" name="csrf" value={props.csrfToken} />
      <input type="hidden" name="return_to" value={props.returnTo} />
      <label for="sign-in-email">Email address</label>
      <EmailInput id="sign-in-email" value={props.email} errorId={props.errorId} />
      <div class="actions">
        {props.offer.link && (
          <button type="submit" name="kind" value="link" class="secondary">
            Email me a sign-in link
          </button>
        )}
        {props.offer.code && (
          <button type="submit" name="kind" value="code" class="secondary">
            Email me a code
          </button>
        )}
      </div>
    </form>
  )
}
