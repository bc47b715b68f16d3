import { CredentialFields, FormError } from '../pages/credential-fields'
import { Layout } from '../pages/layout'

export interface RegisterPageProps {
  productName: string
  username?: string
  /** SETTINGS.email.required_at_registration. */
  emailRequired?: boolean
  /** What POST /auth/register said was wrong (its error description: never a secret). */
  error?: string
}

/** The registration form: posts to POST /auth/register, which answers browsers with a redirect to login. */
export function RegisterPage(props: RegisterPageProps) {
  return (
    <Layout title="Create an account" productName={props.productName}>
      <h1>Create an account</h1>
      <p class="lead">{props.productName}</p>
      <FormError id="register-error" message={props.error} />
      <form method="post" action="/auth/register">
        <CredentialFields
          username={props.username}
          errorId={props.error ? 'register-error' : undefined}
          passwordAutocomplete="new-password"
        />
        <label for="email">Email address{props.emailRequired ? '' : ' (optional)'}</label>
        <input id="email" name="email" type="email" autocomplete="email" required={props.emailRequired} />
        <button type="submit">Create account</button>
      </form>
      <p class="muted">
        Have an account? <a href="/auth/login">Sign in</a>.
      </p>
    </Layout>
  )
}
