import { CredentialFields, FormError } from '../pages/credential-fields'
import { EmailSignInForm, type EmailSignInOptions } from '../pages/email-sign-in-form'
import { Layout } from '../pages/layout'
import { PASSKEY_SCRIPT } from '../pages/passkey-script'

/** An external login provider's button (LOGIN_PROVIDERS in wrangler.toml). */
export interface ProviderButton {
  name: string
  displayName: string
}

export interface LoginPageProps {
  productName: string
  csrfToken: string
  returnTo: string
  username?: string
  /** One generic message: the page never says whether the account exists. */
  error?: string
  registration: boolean
  providers: readonly ProviderButton[]
  /**
   * ISSUER's host can be a WebAuthn RP ID: the page offers "Sign in with a passkey" and passkeys in
   * the username field's autofill, through its one inline script (pages/passkey-script.ts).
   */
  passkeys: boolean
  /** SETTINGS.email.sign_in_link / sign_in_code: the "email me a link / a code" form. */
  emailSignIn: EmailSignInOptions
}

/** The passkey button: shown by the script once it knows the browser can (hidden without script). */
function PasskeySignIn() {
  return (
    <section
      id="passkey-sign-in"
      class="providers"
      aria-label="Sign in with a passkey"
      data-options="/auth/passkeys/authentication-options"
      data-finish="/auth/passkeys/authentication"
    >
      <p id="passkey-error" class="error" role="alert" hidden />
      <button id="passkey-button" type="button" hidden>
        Sign in with a passkey
      </button>
    </section>
  )
}

export function LoginPage(props: LoginPageProps) {
  const errorId = props.error ? 'login-error' : undefined
  return (
    <Layout title="Sign in" productName={props.productName}>
      <h1>{props.productName}</h1>
      <p class="lead">Sign in to continue.</p>
      <FormError id="login-error" message={props.error} />
      <form method="post" action="/auth/login">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <CredentialFields
          username={props.username}
          errorId={errorId}
          invalid={props.error !== undefined}
          passwordAutocomplete="current-password"
          usernameAutocomplete={props.passkeys ? 'username webauthn' : 'username'}
          autofocus
        />
        <label class="check" for="remember">
          <input id="remember" name="remember" type="checkbox" value="1" />
          Keep me signed in on this device
        </label>
        <button type="submit">Sign in</button>
      </form>
      {props.passkeys && <PasskeySignIn />}
      <EmailSignInForm csrfToken={props.csrfToken} returnTo={props.returnTo} offer={props.emailSignIn} />
      <p class="muted">
        <a href="/auth/forgot-password">Forgot your password?</a>
      </p>
      {props.providers.length > 0 && (
        <section class="providers" aria-label="Other ways to sign in">
          {props.providers.map((provider) => (
            <p>
              <a
                class="button"
                href={`/auth/login/${encodeURIComponent(provider.name)}?return_to=${encodeURIComponent(props.returnTo)}`}
              >
                Sign in with {provider.displayName}
              </a>
            </p>
          ))}
        </section>
      )}
      {props.registration && (
        <p class="muted">
          No account? <a href="/auth/register">Create one</a>.
        </p>
      )}
      {props.passkeys && <script dangerouslySetInnerHTML={{ __html: PASSKEY_SCRIPT }} />}
    </Layout>
  )
}
