/**
 * The pages of signing in by email. The answer to a request is the same for every address: the
 * link page says a link may be on its way, the code page asks for the code whether or not one was
 * sent. The link's page names the account and asks for a press (its POST spends the token).
 */
import { FormError, OneTimeCodeInput } from '../pages/credential-fields'
import { EmailSignInForm, type EmailSignInOptions } from '../pages/email-sign-in-form'
import { Layout } from '../pages/layout'
import { EMAIL_CODE_PATH, SIGN_IN_LINK_PATH } from './flows'

interface Common {
  productName: string
  csrfToken: string
  error?: string
}

/** The request form again, with what went wrong (an expired form, no address, throttled). */
export function EmailSignInRequestPage(
  props: Common & { returnTo: string; offer: EmailSignInOptions; email?: string },
) {
  return (
    <Layout title="Sign in by email" productName={props.productName}>
      <h1>Sign in by email</h1>
      <FormError id="email-sign-in-error" message={props.error} />
      <EmailSignInForm
        csrfToken={props.csrfToken}
        returnTo={props.returnTo}
        offer={props.offer}
        email={props.email}
        errorId={props.error ? 'email-sign-in-error' : undefined}
      />
      <p class="muted">
        <a href="/auth/login">Back to sign in</a>
      </p>
    </Layout>
  )
}

export function SignInLinkSentPage(props: { productName: string }) {
  return (
    <Layout title="Check your mail" productName={props.productName}>
      <h1>Check your mail</h1>
      <p class="lead" id="sign-in-link-sent">
        If an account has that address, a sign-in link is on its way. Open it in this browser; it works once,
        for a short time.
      </p>
      <p class="muted">
        <a href="/auth/login">Back to sign in</a>
      </p>
    </Layout>
  )
}

export function SignInCodePage(props: Common & { email: string; returnTo: string }) {
  return (
    <Layout title="Enter your code" productName={props.productName}>
      <h1>Enter your code</h1>
      <p class="lead" id="sign-in-code-sent">
        If an account has the address <strong>{props.email}</strong>, a 6-digit code is on its way. It works
        once, for a few minutes.
      </p>
      <FormError id="code-error" message={props.error} />
      <form method="post" action={EMAIL_CODE_PATH}>
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="email" value={props.email} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <label for="code">Code</label>
        <OneTimeCodeInput errorId={props.error ? 'code-error' : undefined} autofocus />
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        <a href="/auth/login">Back to sign in</a>
      </p>
    </Layout>
  )
}

export function SignInLinkPage(props: Common & { token: string; username: string; otherBrowser: boolean }) {
  return (
    <Layout title="Sign in" productName={props.productName}>
      <h1>
        Sign in as <span id="link-account">{props.username}</span>
      </h1>
      {props.otherBrowser ? (
        <p class="lead" id="other-browser">
          This link was requested in another browser. Sign in here anyway?
        </p>
      ) : (
        <p class="lead">Press the button to sign in to {props.productName}.</p>
      )}
      <FormError id="link-error" message={props.error} />
      <form method="post" action={SIGN_IN_LINK_PATH}>
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="token" value={props.token} />
        {props.otherBrowser && <input type="hidden" name="other_browser" value="confirmed" />}
        <button type="submit">{props.otherBrowser ? 'Sign in here anyway' : 'Sign in'}</button>
      </form>
    </Layout>
  )
}
