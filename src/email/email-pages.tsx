/**
 * The pages of the email flows. Each form carries the pre-session CSRF token; a link's token rides
 * in a hidden field of the page's form, and only the POST spends it (GET never does: mail scanners
 * fetch links). Every page is served with `Referrer-Policy: no-referrer` (pages/render.ts), so the
 * token in the URL never leaves in a Referer.
 */
import { EmailInput, FormError } from '../pages/credential-fields'
import { Layout } from '../pages/layout'

interface Common {
  productName: string
  csrfToken: string
  error?: string
}

export function ForgotPasswordPage(props: Common & { email?: string; sent?: boolean }) {
  return (
    <Layout title="Forgot your password?" productName={props.productName}>
      <h1>Forgot your password?</h1>
      {props.sent ? (
        <p class="lead" id="forgot-sent">
          If an account has that address, a link to choose a new password is on its way. It works once, for 30
          minutes.
        </p>
      ) : (
        <p class="lead">Enter your account's email address and we will mail you a link.</p>
      )}
      <FormError id="forgot-error" message={props.error} />
      <form method="post" action="/auth/forgot-password">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <label for="email">Email address</label>
        <EmailInput id="email" value={props.email} />
        <button type="submit">Send the link</button>
      </form>
      <p class="muted">
        <a href="/auth/login">Back to sign in</a>
      </p>
    </Layout>
  )
}

export function ResetPasswordPage(props: Common & { token: string; username: string }) {
  return (
    <Layout title="Choose a new password" productName={props.productName}>
      <h1>Choose a new password</h1>
      <p class="lead">
        For the account <strong id="reset-account">{props.username}</strong>. Every session of the account
        ends.
      </p>
      <FormError id="reset-error" message={props.error} />
      <form method="post" action="/auth/reset-password">
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="token" value={props.token} />
        <input type="hidden" name="username" value={props.username} autocomplete="username" />
        <label for="password">New password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          required
          aria-describedby={props.error ? 'reset-error' : undefined}
        />
        <button type="submit">Set the password</button>
      </form>
    </Layout>
  )
}

export function ConfirmLinkPage(
  props: Common & {
    token: string
    username: string
    email: string
    action: string
    title: string
    button: string
  },
) {
  return (
    <Layout title={props.title} productName={props.productName}>
      <h1>{props.title}</h1>
      <p class="lead">
        Account <strong id="link-account">{props.username}</strong>, address <strong>{props.email}</strong>.
      </p>
      <FormError id="link-error" message={props.error} />
      <form method="post" action={props.action}>
        <input type="hidden" name="csrf" value={props.csrfToken} />
        <input type="hidden" name="token" value={props.token} />
        <button type="submit">{props.button}</button>
      </form>
    </Layout>
  )
}

export function LinkDeadPage(props: { productName: string; message: string }) {
  return (
    <Layout title="This link does not work" productName={props.productName}>
      <h1>This link does not work</h1>
      <p class="lead" id="link-dead">
        {props.message}
      </p>
      <p>
        <a href="/auth/forgot-password">Ask for a new password link</a> · <a href="/auth/login">Sign in</a>
      </p>
    </Layout>
  )
}

export function DonePage(props: { productName: string; title: string; message: string }) {
  return (
    <Layout title={props.title} productName={props.productName}>
      <h1>{props.title}</h1>
      <p class="lead" id="link-done">
        {props.message}
      </p>
      <p>
        <a href="/auth/login">Sign in</a>
      </p>
    </Layout>
  )
}

export interface MailboxEntry {
  id: string
  at: string
  to: string
  subject: string
  text: string
}

/** Local development only (dev-mailbox.ts): the last mails, links clickable. */
export function DevMailboxPage(props: { productName: string; mails: readonly MailboxEntry[] }) {
  return (
    <Layout title="Dev mailbox" productName={props.productName}>
      <h1>Dev mailbox</h1>
      <p class="lead">
        Mails this local gateway sent (newest first; kept for an hour). Never served in a deploy.
      </p>
      {props.mails.length === 0 && <p>No mail yet.</p>}
      {props.mails.map((mail) => (
        <article class="mail" id={`mail-${mail.id}`}>
          <h2>{mail.subject}</h2>
          <p class="muted">
            To {mail.to} · {mail.at}
          </p>
          {mail.text.split('\n').map((line) =>
            /^https?:\/\/\S+$/.test(line) ? (
              <p>
                <a href={line}>{line}</a>
              </p>
            ) : (
              <p>{line}</p>
            ),
          )}
        </article>
      ))}
    </Layout>
  )
}
