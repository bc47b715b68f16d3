import { PASSKEYS_NEED_A_DOMAIN } from '../config/relying-party'
import { Layout } from '../pages/layout'
import { PASSKEY_SCRIPT } from '../pages/passkey-script'
import { SignOutForms } from '../pages/sign-out-forms'
import { When } from '../pages/when'
import type { PasskeyView } from './service'

export const PASSKEYS_PATH = '/auth/passkeys'

export interface PasskeysPageProps {
  productName: string
  username: string
  passkeys: readonly PasskeyView[]
  /** False when ISSUER's host is an IP address: no RP ID, no passkeys (config/relying-party.ts). */
  available: boolean
  /** The session's CSRF token, sent by the script in X-CSRF-Token. */
  csrfToken: string
  maxNameLength: number
}

function deviceText(passkey: PasskeyView): string {
  if (passkey.device_type === 'multi_device') return passkey.backed_up ? 'synced' : 'can sync'
  return 'this device only'
}

/**
 * "Your passkeys": each passkey with rename and delete forms (plain same-origin POSTs, no script),
 * and "Add a passkey", which needs the browser's WebAuthn and so the one inline script.
 */
export function PasskeysPage(props: PasskeysPageProps) {
  return (
    <Layout title="Your passkeys" productName={props.productName} wide>
      <h1>Your passkeys</h1>
      <p class="lead">
        Signed in as {props.username}. A passkey signs you in with this device's screen lock or a security
        key, without a password.
      </p>
      <SignOutForms />
      {props.passkeys.length === 0 && <p>You have no passkey yet.</p>}
      {props.passkeys.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Added</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="muted">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.passkeys.map((passkey) => (
              <tr>
                <td>
                  <form class="inline" method="post" action={`/auth/passkeys/${passkey.id}/rename`}>
                    <label class="visually-hidden" for={`name-${passkey.id}`}>
                      Name of passkey {passkey.name}
                    </label>
                    <input
                      class="name"
                      id={`name-${passkey.id}`}
                      name="name"
                      type="text"
                      required
                      maxlength={props.maxNameLength}
                      value={passkey.name}
                    />{' '}
                    <button class="secondary" type="submit">
                      Rename<span class="visually-hidden"> passkey {passkey.name}</span>
                    </button>
                  </form>
                </td>
                <td>{deviceText(passkey)}</td>
                <td>
                  <When at={passkey.created_at} />
                </td>
                <td>{passkey.last_used_at === null ? 'never' : <When at={passkey.last_used_at} />}</td>
                <td>
                  <form class="inline" method="post" action={`/auth/passkeys/${passkey.id}/delete`}>
                    <button class="secondary" type="submit">
                      Delete<span class="visually-hidden"> passkey {passkey.name}</span>
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2 id="add-heading">Add a passkey</h2>
      {!props.available && (
        <p class="error" role="alert">
          {PASSKEYS_NEED_A_DOMAIN}
        </p>
      )}
      {props.available && (
        <form
          id="passkey-add"
          method="post"
          action="/auth/passkeys"
          aria-labelledby="add-heading"
          data-options="/auth/passkeys/registration-options"
          data-csrf={props.csrfToken}
        >
          <label for="passkey-name">Name</label>
          <input
            id="passkey-name"
            name="name"
            type="text"
            required
            maxlength={props.maxNameLength}
            placeholder="e.g. Work laptop"
          />
          <p id="passkey-error" class="error" role="alert" hidden />
          <button type="submit">Add a passkey</button>
          <p class="muted">
            Adding a passkey needs a recent sign-in; if it is refused,{' '}
            <a href="/auth/login?return_to=%2Fauth%2Fpasskeys">sign in again</a>.
          </p>
        </form>
      )}
      <p>
        <a href="/auth/account">Your account</a> · <a href="/auth/sessions">Your sessions</a>
      </p>
      {props.available && <script dangerouslySetInnerHTML={{ __html: PASSKEY_SCRIPT }} />}
    </Layout>
  )
}
