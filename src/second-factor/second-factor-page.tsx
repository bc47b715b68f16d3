import { FormError, OneTimeCodeInput } from '../pages/credential-fields'
import { Layout } from '../pages/layout'

export interface SecondFactorPageProps {
  productName: string
  username: string
  /** `pending`: the second step of a sign-in; `session`: a signed-in user confirming it is them. */
  kind: 'pending' | 'session'
  csrfToken: string
  returnTo: string
  hasTotp: boolean
  error?: string
  /**
   * The user has a passkey and ISSUER's host can be an RP ID: the page offers "Use a passkey",
   * through the pages' one script (pages/passkey-script.ts, allowed by its hash in the CSP).
   */
  hasPasskey: boolean
}

/** The passkey as the second step: the script's `#passkey-sign-in`, without an autofill request. */
function PasskeyStep(props: { csrfToken: string; returnTo: string }) {
  return (
    <section
      id="passkey-sign-in"
      aria-label="Use a passkey"
      data-options="/auth/passkeys/second-factor-options"
      data-finish="/auth/passkeys/second-factor"
      data-csrf={props.csrfToken}
      data-return-to={props.returnTo}
      data-conditional="off"
    >
      <p id="passkey-error" class="error" role="alert" hidden />
      <button id="passkey-button" type="button" hidden>
        Use a passkey
      </button>
    </section>
  )
}

function CodeForms(props: SecondFactorPageProps) {
  const errorId = props.error ? 'code-error' : undefined
  return (
    <>
      <form method="post" action="/auth/second-factor">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <label for="code">Code from your authenticator app</label>
        <OneTimeCodeInput errorId={errorId} autofocus />
        <button type="submit">Continue</button>
      </form>
      <details>
        <summary>Use a recovery code instead</summary>
        <form method="post" action="/auth/second-factor">
          <input type="hidden" name="csrf" value={props.csrfToken} />
          <input type="hidden" name="return_to" value={props.returnTo} />
          <label for="recovery_code">Recovery code</label>
          <input
            id="recovery_code"
            name="recovery_code"
            type="text"
            autocomplete="off"
            autocapitalize="none"
            spellcheck={false}
            maxlength={64}
            required
          />
          <button type="submit">Use recovery code</button>
        </form>
        <p class="muted">Each recovery code works once.</p>
      </details>
    </>
  )
}

/**
 * The second step: after a password (or provider) sign-in of a user with a second factor, or when
 * a signed-in user must confirm it is them (step-up). Plain forms; the passkey button needs the
 * pages' one script.
 */
export function SecondFactorPage(props: SecondFactorPageProps) {
  return (
    <Layout title="Second step" productName={props.productName}>
      <h1>{props.kind === 'pending' ? 'One more step' : 'Confirm it is you'}</h1>
      <p class="lead">
        {props.kind === 'pending'
          ? `Signing in as ${props.username}.`
          : `Signed in as ${props.username}; this needs a second factor.`}
      </p>
      <FormError id="code-error" message={props.error} />
      {props.hasTotp && <CodeForms {...props} />}
      {props.hasPasskey && <PasskeyStep csrfToken={props.csrfToken} returnTo={props.returnTo} />}
      {!props.hasTotp && !props.hasPasskey && (
        <p>
          You have no authenticator app set up.{' '}
          {props.kind === 'session' ? (
            <a href="/auth/second-factor/setup">Set one up</a>
          ) : (
            'Sign in with another way you have, or ask an administrator to reset your second factors.'
          )}
        </p>
      )}
      <p class="muted">
        <a href="/auth/login">Start again</a>
      </p>
    </Layout>
  )
}
