import { Layout } from './layout'

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
  /** Configured providers not linked yet: a "Link" link each. */
  linkable: readonly { name: string; displayName: string }[]
  error?: string
}

/**
 * "Sign-in methods": the providers linked to the account, each with an unlink button (a plain
 * same-origin form POST), and a link per provider not linked yet (a same-origin navigation, which
 * is what GET /auth/login/{provider}?link=1 requires).
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
            <p>
              <a class="button" href={`/auth/login/${encodeURIComponent(provider.name)}?link=1`}>
                Link your {provider.displayName} account
              </a>
            </p>
          ))}
        </section>
      )}
      <p>
        <a href="/auth/sessions">Your sessions</a>
      </p>
    </Layout>
  )
}
