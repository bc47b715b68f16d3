import { Layout } from '../pages/layout'
import { redirectHost } from './redirect-uri'
import { describeRole, describeScope } from './scope-words'

export interface ConsentPageProps {
  productName: string
  clientName: string
  clientId: string
  /** Where the browser goes afterwards: shown so a user can spot a look-alike app. */
  redirectUri: string
  /**
   * The client registered itself (RFC 7591): its name is its own claim, so the page names the app
   * by where it sends the browser, and says that nobody vouched for it.
   */
  selfRegistered: boolean
  /**
   * The host of the client's metadata document when its client_id is one (client-lookup.ts): its
   * name is self-chosen, so the page leads with where the code goes and who published the document.
   */
  documentHost?: string
  username: string
  scopes: readonly string[]
  /** The roles the app would act with for this user (its delegated token's roles). */
  roles: readonly string[]
  csrfToken: string
  /** The original authorize query, posted back and validated again (never trusted as state). */
  authorizationQuery: string
  /** The authorize URL itself, for "not you?" (sign in as someone else and come back). */
  switchAccountHref: string
}

/**
 * For a client known only by its metadata document: its name is whatever the document says, so
 * the hosts that cannot be chosen freely come first (the redirect's, where the code goes, and the
 * document's, who published it). The logo is never fetched or shown.
 */
function DocumentClientNotice(props: { clientName: string; documentHost: string; redirectUri: string }) {
  return (
    <div>
      <p>
        This app is not registered with the operator. It will receive access at{' '}
        <strong>{redirectHost(props.redirectUri)}</strong>.
      </p>
      <p>
        It describes itself in a document published at <strong>{props.documentHost}</strong>; the name "
        {props.clientName}" is its own claim. Allow only if you trust both.
      </p>
    </div>
  )
}

/**
 * "Allow <app> to use your account?": the app, what it may do in words, the account, and two
 * buttons of one form. The form is a POST carrying the session's CSRF token (and the browser's
 * Origin/Sec-Fetch-Site, checked too), so another site cannot approve on a user's behalf.
 */
export function ConsentPage(props: ConsentPageProps) {
  const host = redirectHost(props.redirectUri)
  const app = props.selfRegistered ? `the app at ${host}` : props.clientName
  return (
    <Layout title={`Allow ${app}?`} productName={props.productName}>
      <h1>Allow {app} to use your account?</h1>
      <p class="lead">
        Signed in as <strong>{props.username}</strong>. <a href={props.switchAccountHref}>Not you?</a>
      </p>
      {props.documentHost !== undefined ? (
        <DocumentClientNotice
          clientName={props.clientName}
          documentHost={props.documentHost}
          redirectUri={props.redirectUri}
        />
      ) : (
        props.selfRegistered && (
          <p class="error" role="alert">
            This app registered itself; nobody at {props.productName} has checked it.
            {props.clientName !== props.clientId &&
              ` It calls itself "${props.clientName}", a name anyone can choose.`}{' '}
            Allow only if you started this at {host}.
          </p>
        )
      )}
      <p>
        <strong>{props.selfRegistered ? host : props.clientName}</strong>{' '}
        <span class="muted">({props.clientId})</span> asks to:
      </p>
      <ul class="scopes">
        {props.scopes.length === 0 && props.roles.length === 0 ? (
          <li>Know that you signed in</li>
        ) : (
          props.scopes.map((scope) => (
            <li>
              {describeScope(scope)} <span class="muted">({scope})</span>
            </li>
          ))
        )}
        {props.roles.map((role) => (
          <li>
            {describeRole(role)} <span class="muted">(role {role})</span>
          </li>
        ))}
      </ul>
      <p class="muted">Allowing sends you back to {host}. The app keeps access until you withdraw it.</p>
      <form method="post" action="/auth/authorize">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="authorization_query" value={props.authorizationQuery} />
        <div class="actions">
          <button type="submit" name="decision" value="allow">
            Allow
          </button>
          <button class="secondary" type="submit" name="decision" value="deny">
            Deny
          </button>
        </div>
      </form>
    </Layout>
  )
}
