import type { Child } from 'hono/jsx'
import { Layout } from '../pages/layout'
import { SignOutForms } from '../pages/sign-out-forms'
import { When } from '../pages/when'
import { EmailSection, type EmailView } from './account-email-section'

/** How the browser session showing the page was signed in. */
export interface SignInView {
  /** "a password", or the login provider's display name. */
  method: string
  at: number
}

/** An app the user consented to (GET /auth/grants has the same facts as JSON). */
export interface GrantView {
  clientId: string
  clientName: string
  scopes: readonly string[]
  since: number
}

/** One of the user's live API keys: names and dates only, never the key. */
export interface ApiKeyRow {
  name: string
  scopes: readonly string[]
  createdAt: number
  expiresAt: number | null
  lastUsedAt: number | null
}

export interface AccountPageProps {
  productName: string
  username: string
  roles: readonly string[]
  signIn: SignInView
  grants: readonly GrantView[]
  apiKeys: readonly ApiKeyRow[]
  email: EmailView
  /** The session's CSRF token, the forms' `csrf` field (src/sessions/csrf-token.ts). */
  csrfToken: string
  /** What a form on the page just did (or why it did not). */
  notice?: { text: string; error?: boolean }
}

function Section(props: { id: string; title: string; children?: Child }) {
  return (
    <section aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  )
}

function Identity(props: Pick<AccountPageProps, 'username' | 'roles' | 'signIn'>) {
  return (
    <Section id="you" title="Who you are">
      <table>
        <tbody>
          <tr>
            <th scope="row">Username</th>
            <td>{props.username}</td>
          </tr>
          <tr>
            <th scope="row">Roles</th>
            <td>{props.roles.length > 0 ? props.roles.join(', ') : 'none'}</td>
          </tr>
          <tr>
            <th scope="row">This session</th>
            <td>
              Signed in with {props.signIn.method} at <When at={props.signIn.at} />
            </td>
          </tr>
        </tbody>
      </table>
      <p>
        <a href="/auth/sessions">Your sessions</a>: every browser signed in to your account.
      </p>
    </Section>
  )
}

// The security sections (passkeys, a second factor) go after this one: each its own <Section>.
function SignInMethods() {
  return (
    <Section id="sign-in" title="Ways to sign in">
      <p>
        <a href="/auth/identities">Linked sign-in methods</a>: the Google, GitHub or other accounts that can
        sign you in here.
      </p>
      <p>
        <a href="/auth/second-factor/setup">Second factor (authenticator app)</a>: a code after your password.
      </p>
      <p>
        <a href="/auth/passkeys">Passkeys</a>: sign in with this device's screen lock or a security key.
      </p>
    </Section>
  )
}

function Apps(props: Pick<AccountPageProps, 'grants' | 'csrfToken'>) {
  return (
    <Section id="apps" title="Apps you allowed">
      {props.grants.length === 0 && <p>No app has access to your account.</p>}
      {props.grants.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Access</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span class="muted">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.grants.map((grant) => (
              <tr>
                <td>{grant.clientName}</td>
                <td>{grant.scopes.join(' ') || 'sign-in only'}</td>
                <td>
                  <When at={grant.since} />
                </td>
                <td>
                  <form
                    class="inline"
                    method="post"
                    action={`/auth/account/grants/${encodeURIComponent(grant.clientId)}/revoke`}
                  >
                    <input type="hidden" name="csrf" value={props.csrfToken} />
                    <button class="secondary" type="submit">
                      Remove access
                      <span class="visually-hidden"> of {grant.clientName}</span>
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  )
}

function ApiKeys(props: Pick<AccountPageProps, 'apiKeys'>) {
  return (
    <Section id="api-keys" title="API keys">
      {props.apiKeys.length === 0 && <p>You have no active API key.</p>}
      {props.apiKeys.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {props.apiKeys.map((key) => (
              <tr>
                <td>{key.name}</td>
                <td>{key.scopes.join(' ')}</td>
                <td>
                  <When at={key.createdAt} />
                </td>
                <td>{key.expiresAt === null ? 'never' : <When at={key.expiresAt} />}</td>
                <td>{key.lastUsedAt === null ? 'never' : <When at={key.lastUsedAt} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="muted">
        Keys are created and revoked with an access token from your own sign-in:{' '}
        <code>POST /auth/api-keys</code>, <code>DELETE /auth/api-keys/{'{id}'}</code>.
      </p>
    </Section>
  )
}

/**
 * The account home, where a sign-in without `return_to` lands: who you are, how this session
 * signed in, your email address, the ways in, the apps and keys that act for you, and signing out. Plain forms, no
 * script: the revoke forms carry the session's CSRF token, the sign-out forms are the sessions
 * page's.
 */
export function AccountPage(props: AccountPageProps) {
  return (
    <Layout title="Your account" productName={props.productName} wide>
      <h1>Your account</h1>
      <p class="lead">Signed in as {props.username}.</p>
      {props.notice && (
        <p
          id="account-notice"
          class={props.notice.error ? 'error' : undefined}
          role={props.notice.error ? 'alert' : 'status'}
        >
          {props.notice.text}
        </p>
      )}
      <Identity username={props.username} roles={props.roles} signIn={props.signIn} />
      <EmailSection email={props.email} csrfToken={props.csrfToken} />
      <SignInMethods />
      <Apps grants={props.grants} csrfToken={props.csrfToken} />
      <ApiKeys apiKeys={props.apiKeys} />
      <Section id="sign-out" title="Sign out">
        <SignOutForms />
      </Section>
    </Layout>
  )
}
