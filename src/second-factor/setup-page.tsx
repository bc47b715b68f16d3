import { raw } from 'hono/html'
import { FormError, OneTimeCodeInput } from '../pages/credential-fields'
import { Layout } from '../pages/layout'
import { When } from '../pages/when'

export const SETUP_PATH = '/auth/second-factor/setup'

interface Common {
  productName: string
  /** The session's CSRF token (src/sessions/csrf-token.ts). */
  csrfToken: string
}

export interface EnrolPageProps extends Common {
  /** The QR code of the `otpauth://` URI, an SVG document rendered by uqr (no script, no style). */
  qrSvg: string
  secretText: string
  enrolmentToken: string
  error?: string
}

/** Secret groups of four, as apps that take typed secrets show them. */
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ')
}

export function EnrolPage(props: EnrolPageProps) {
  const errorId = props.error ? 'setup-error' : undefined
  return (
    <Layout title="Authenticator app" productName={props.productName}>
      <h1>Set up an authenticator app</h1>
      <p class="lead">
        Scan the code with your authenticator app, then enter the six digits it shows. After that, signing in
        asks for a code after your password.
      </p>
      <FormError id="setup-error" message={props.error} />
      {/* The SVG is uqr's output for a URI we built: paths and rects, nothing from the request. */}
      <figure class="qr" aria-label="QR code of your authenticator secret">
        {raw(props.qrSvg)}
      </figure>
      <p>
        Cannot scan? Enter this key: <code id="secret">{grouped(props.secretText)}</code>
      </p>
      <form method="post" action={SETUP_PATH}>
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="enrolment" value={props.enrolmentToken} />
        <label for="code">Code from the app</label>
        <OneTimeCodeInput errorId={errorId} />
        <button type="submit">Turn on</button>
      </form>
      <p class="muted">
        <a href="/auth/account">Back to your account</a>
      </p>
    </Layout>
  )
}

export interface RecoveryCodesPageProps {
  productName: string
  codes: readonly string[]
  /** True right after enrolment, false after a regeneration. */
  enrolled: boolean
}

export function RecoveryCodesPage(props: RecoveryCodesPageProps) {
  return (
    <Layout title="Recovery codes" productName={props.productName}>
      <h1>{props.enrolled ? 'Authenticator app is on' : 'New recovery codes'}</h1>
      <p class="lead">
        Save these recovery codes somewhere safe now: they are shown only this once. Each one signs you in
        once if you lose your phone.{props.enrolled ? '' : ' Your earlier codes no longer work.'}
      </p>
      <ul class="recovery-codes">
        {props.codes.map((code) => (
          <li>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <p>
        <a href="/auth/account">Back to your account</a>
      </p>
    </Layout>
  )
}

export interface ManagePageProps extends Common {
  since: number
  recoveryCodesRemaining: number
  message?: string
}

/** A user who has TOTP: when it was set up, codes left, new codes, remove. */
export function ManagePage(props: ManagePageProps) {
  return (
    <Layout title="Authenticator app" productName={props.productName}>
      <h1>Authenticator app</h1>
      <p class="lead">
        On since <When at={props.since} />. Signing in asks for a code after your password.
      </p>
      <FormError id="manage-error" message={props.message} />
      <p>
        Recovery codes left: <strong id="recovery-remaining">{props.recoveryCodesRemaining}</strong> of 10.
      </p>
      <form method="post" action="/auth/second-factor/recovery-codes">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <button class="secondary" type="submit">
          Make new recovery codes
        </button>
      </form>
      <form method="post" action="/auth/second-factor/remove">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <button class="secondary" type="submit">
          Remove the authenticator app
        </button>
      </form>
      <p class="muted">
        <a href="/auth/account">Back to your account</a>
      </p>
    </Layout>
  )
}
