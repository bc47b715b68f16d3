import { Layout } from '../pages/layout'

/** One row of GET /auth/identities (the JSON list has the same fields). */
export interface IdentityView {
  provider: string
  display_name: string
  /** The provider's login or email, as it last said. */
  account: string
  created_at: number
  last_login_at: number | null
}

export interface IdentitiesPageProps {
  productName: string
  username: string
  identities: readonly IdentityView[]
  /** Configured providers not linked yet: a "Link" form each. */
  linkable: readonly { name: string; displayName: string }[]
  /** The session's CSRF token, the link forms' `csrf` field (src/sessions/csrf-token.ts). */
  csrfToken: string
  error?: string
}

/**
 * "Sign-in methods": the providers linked to the account, each with an unlink button (a plain
 * same-origin form POST), and a form per provider not linked yet that POSTs the session's CSRF
 * token to /auth/login/{provider}/link, the only way a link starts.
 */
export function IdentitiesPage(props: IdentitiesPageProps) {
  return (
    <Layout title="Sign-in methods" productName={props.productName} wide>
      <h1>Sign-in methods</h1>
      <p class="lead">Signed in as {props.username}. These accounts can sign you in here.</p>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {props.identities.length === 0 && <p>No external account is linked.</p>}
      {props.identities.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Account</th>
              <th scope="col">
                <span class="muted">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.identities.map((identity) => (
              <tr>
                <td>{identity.display_name}</td>
                <td>{identity.account}</td>
                <td>
                  <form class="inline" method="post" action={`/auth/identities/${identity.provider}/unlink`}>
                    <button class="secondary" type="submit">
                      Unlink {identity.display_name}
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.linkable.length > 0 && (
        <section class="providers" aria-label="Link another account">
          {props.linkable.map((provider) => (
            <form method="post" action={`/auth/login/${encodeURIComponent(provider.name)}/link`}>
              <input type="hidden" name="csrf" value={props.csrfToken} />
              <button type="submit">Link your {provider.displayName} account</button>
            </form>
          ))}
        </section>
      )}
      <p>
        <a href="/auth/sessions">Your sessions</a> · <a href="/auth/account">Your account</a>
      </p>
    </Layout>
  )
}
