import type { AuditEvent } from '../audit'
import { Layout } from '../pages/layout'

export interface AdminUserRow {
  id: string
  username: string
  roles: string[]
  disabled: boolean
}

export interface AdminPageProps {
  productName: string
  adminName: string
  users: readonly AdminUserRow[]
  events: readonly AuditEvent[]
  /** Search text of the user list. */
  q?: string
}

function ActionButton(props: {
  userId: string
  action: 'disable' | 'enable' | 'revoke'
  label: string
  who: string
}) {
  return (
    <form
      class="inline"
      method="post"
      action={`/admin/page/users/${encodeURIComponent(props.userId)}/${props.action}`}
    >
      <button class="secondary" type="submit">
        {props.label}
        <span class="visually-hidden"> {props.who}</span>
      </button>
    </form>
  )
}

/**
 * The admin page: users with their status and actions, and the latest audit events. Actions are
 * plain same-origin form posts (no script: the CSP allows none); the API is the product.
 */
export function AdminPage(props: AdminPageProps) {
  return (
    <Layout title="Admin" productName={props.productName} wide>
      <h1>Admin</h1>
      <p class="lead">
        Signed in as {props.adminName}. <a href="/admin/docs">API reference</a> ·{' '}
        <a href="/auth/sessions">Your sessions</a>
      </p>
      <h2>Users</h2>
      <form method="get" action="/admin">
        <label for="q">Find users</label>
        <input id="q" name="q" type="text" value={props.q ?? ''} />
        <button type="submit">Search</button>
      </form>
      <table>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Roles</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="muted">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.users.map((user) => (
            <tr data-user={user.username}>
              <td>{user.username}</td>
              <td>{user.roles.join(', ')}</td>
              <td>{user.disabled ? <span class="badge">disabled</span> : 'active'}</td>
              <td class="actions">
                {user.disabled ? (
                  <ActionButton userId={user.id} action="enable" label="Enable" who={user.username} />
                ) : (
                  <ActionButton userId={user.id} action="disable" label="Disable" who={user.username} />
                )}
                <ActionButton
                  userId={user.id}
                  action="revoke"
                  label="Sign out everywhere"
                  who={user.username}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Recent events</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">When (UTC)</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">Subject</th>
            <th scope="col">IP</th>
          </tr>
        </thead>
        <tbody>
          {props.events.map((event) => (
            <tr data-event={event.type}>
              <td>
                <time datetime={event.at}>{event.at.slice(0, 19).replace('T', ' ')}</time>
              </td>
              <td>
                {event.type}
                {event.outcome === 'failure' && <span class="badge"> failure</span>}
              </td>
              <td>{event.actor_id ?? ''}</td>
              <td>{event.subject_id ?? event.client_id ?? ''}</td>
              <td>{event.ip ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Export: <a href="/admin/audit?format=jsonl">/admin/audit?format=jsonl</a>
      </p>
    </Layout>
  )
}
