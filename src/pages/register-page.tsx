import { Layout } from './layout'

export interface RegisterPageProps {
  productName: string
  username?: string
  /** What POST /auth/register said was wrong (its error description: never a secret). */
  error?: string
}

/** The registration form: posts to POST /auth/register, which answers browsers with a redirect to login. */
export function RegisterPage(props: RegisterPageProps) {
  const described = props.error ? 'register-error' : undefined
  return (
    <Layout title="Create an account" productName={props.productName}>
      <h1>Create an account</h1>
      <p class="lead">{props.productName}</p>
      {props.error && (
        <p id="register-error" class="error" role="alert">
          {props.error}
        </p>
      )}
      <form method="post" action="/auth/register">
        <label for="username">Username</label>
        <input
          id="username"
          name="username"
          type="text"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          required
          value={props.username ?? ''}
          aria-describedby={described}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          required
          aria-describedby={described}
        />
        <button type="submit">Create account</button>
      </form>
      <p class="muted">
        Have an account? <a href="/auth/login">Sign in</a>.
      </p>
    </Layout>
  )
}
