import { Layout } from '../pages/layout'

export interface EndSessionPageProps {
  productName: string
  username: string
  csrfToken: string
  /** The validated request's parameters, re-posted and validated again. */
  fields: Readonly<Record<string, string>>
}

/**
 * "Sign out?": asked when an app's logout request cannot show that it speaks for this user (no
 * id_token_hint, or a hint for someone else), so a link on another site cannot sign people out
 * with a GET. The button is a CSRF-protected POST.
 */
export function EndSessionPage(props: EndSessionPageProps) {
  return (
    <Layout title="Sign out?" productName={props.productName}>
      <h1>Sign out?</h1>
      <p class="lead">
        An app asked to sign you out of {props.productName}. You are signed in as{' '}
        <strong>{props.username}</strong>.
      </p>
      <form method="post" action="/auth/end-session">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        {Object.entries(props.fields).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <div class="actions">
          <button type="submit">Sign out</button>
        </div>
      </form>
      <p class="muted">
        <a href="/auth/sessions">Stay signed in</a>
      </p>
    </Layout>
  )
}
