import { Layout } from '../pages/layout'
import { SignOutForms } from '../pages/sign-out-forms'
import { When } from '../pages/when'
import type { SessionSummary } from './service'

/** One row of GET /auth/sessions (the JSON list has the same fields). */
export interface SessionView extends SessionSummary {
  current: boolean
}

export interface SessionsPageProps {
  productName: string
  username: string
  sessions: readonly SessionView[]
}

/**
 * "Your sessions": each live browser session with a button that ends it. Buttons are plain form
 * POSTs (no script); the CSRF guard lets them through because the browser marks them same-origin.
 */
export function SessionsPage(props: SessionsPageProps) {
  return (
    <Layout title="Your sessions" productName={props.productName} wide>
      <h1>Your sessions</h1>
      <p class="lead">Signed in as {props.username}. These browsers are signed in to your account.</p>
      <SignOutForms />
      <table>
        <thead>
          <tr>
            <th scope="col">Browser</th>
            <th scope="col">IP address</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last active</th>
            <th scope="col">
              <span class="muted">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.sessions.map((session) => (
            <tr>
              <td>
                {session.user_agent || 'Unknown browser'}{' '}
                {session.current && <span class="badge">current session</span>}
              </td>
              <td>{session.ip ?? 'unknown'}</td>
              <td>
                <When at={session.created_at} />
              </td>
              <td>
                <When at={session.last_seen_at} />
              </td>
              <td>
                <form class="inline" method="post" action={`/auth/sessions/${session.id}/end`}>
                  <button class="secondary" type="submit">
                    End session
                    <span class="visually-hidden">
                      {' '}
                      signed in {new Date(session.created_at * 1000).toISOString()}
                    </span>
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <a href="/auth/identities">Sign-in methods (Google, GitHub…)</a> ·{' '}
        <a href="/auth/account">Your account</a>
      </p>
    </Layout>
  )
}
