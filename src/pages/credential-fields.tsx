/**
 * The username and password fields of the login and registration forms, with the error they
 * share: the fields point at the error (`aria-describedby`) so a screen reader reads it with them.
 */

export function FormError(props: { id: string; message?: string }) {
  if (!props.message) return null
  return (
    <p id={props.id} class="error" role="alert">
      {props.message}
    </p>
  )
}

export interface CredentialFieldsProps {
  username?: string
  /** The id of the FormError, when there is one. */
  errorId?: string
  /** Whether the error says these values were wrong (login), not only that something was (register). */
  invalid?: boolean
  /** `current-password` signs in; `new-password` lets password managers offer a generated one. */
  passwordAutocomplete: 'current-password' | 'new-password'
  /** `username webauthn` on a login form that offers passkeys in the autofill (conditional UI). */
  usernameAutocomplete?: 'username' | 'username webauthn'
  autofocus?: boolean
}

export function CredentialFields(props: CredentialFieldsProps) {
  const invalid = props.invalid ? 'true' : undefined
  return (
    <>
      <label for="username">Username</label>
      <input
        id="username"
        name="username"
        type="text"
        autocomplete={props.usernameAutocomplete ?? 'username'}
        autocapitalize="none"
        spellcheck={false}
        required
        autofocus={props.autofocus}
        value={props.username ?? ''}
        aria-describedby={props.errorId}
        aria-invalid={invalid}
      />
      <label for="password">Password</label>
      <input
        id="password"
        name="password"
        type="password"
        autocomplete={props.passwordAutocomplete}
        required
        aria-describedby={props.errorId}
        aria-invalid={invalid}
      />
    </>
  )
}

/**
 * A six-digit one-time code (TOTP, an emailed sign-in code): a space in the middle is allowed, the
 * browser may fill it from an SMS or mail (`one-time-code`); the label is the caller's.
 */
export function OneTimeCodeInput(props: { errorId?: string; autofocus?: boolean }) {
  return (
    <input
      id="code"
      name="code"
      type="text"
      inputmode="numeric"
      autocomplete="one-time-code"
      pattern="[0-9 ]{6,7}"
      maxlength={7}
      required
      autofocus={props.autofocus}
      aria-invalid={props.errorId ? 'true' : undefined}
      aria-describedby={props.errorId}
    />
  )
}

/** The email address field of the forgot-password and "email me a sign-in link" forms. */
export function EmailInput(props: { id: string; value?: string; errorId?: string }) {
  return (
    <input
      id={props.id}
      name="email"
      type="email"
      autocomplete="email"
      required
      value={props.value ?? ''}
      aria-describedby={props.errorId}
    />
  )
}
