/**
 * Why a sign-in through a provider did not complete. Every failure of the flow ends on the login
 * page with one of these messages (never a 500, never the provider's own `error_description`,
 * which anyone can put into a callback URL); the reason and its cause go to the log. A closed
 * set, like GatewayError's codes, but rendered by the provider routes themselves as a page.
 */
export const PROVIDER_FAILURES = {
  unknown_provider: { status: 404, message: 'There is no such sign-in option.' },
  not_configured: {
    status: 503,
    message: 'Signing in with {provider} is not available right now: the gateway is not fully set up for it.',
  },
  flow_invalid: {
    status: 400,
    message: 'This sign-in attempt has expired or was started in another browser. Please try again.',
  },
  cancelled: { status: 403, message: 'Signing in with {provider} was cancelled.' },
  provider_error: { status: 502, message: '{provider} could not complete the sign-in. Please try again.' },
  provider_unavailable: {
    status: 502,
    message: '{provider} cannot be reached right now. Please try again in a moment.',
  },
  invalid_response: {
    status: 502,
    message: 'The answer from {provider} could not be verified, so you were not signed in. Please try again.',
  },
  not_allowed: { status: 403, message: 'Your {provider} account is not allowed to sign in here.' },
  no_account: {
    status: 403,
    message:
      'No account here is linked to this {provider} account. Sign in another way and link {provider} from your account page.',
  },
  account_disabled: { status: 403, message: 'This account cannot sign in.' },
  already_linked: { status: 409, message: 'This {provider} account is already linked to another user.' },
  link_needs_session: {
    status: 403,
    message: 'To link {provider}, sign in first and start from your account page.',
  },
} as const

export type ProviderFailureReason = keyof typeof PROVIDER_FAILURES

export class ProviderLoginFailure extends Error {
  readonly reason: ProviderFailureReason
  constructor(reason: ProviderFailureReason, detail: string, cause?: unknown) {
    super(detail, cause === undefined ? undefined : { cause })
    this.name = 'ProviderLoginFailure'
    this.reason = reason
  }
}

export function failureMessage(reason: ProviderFailureReason, displayName: string): string {
  return PROVIDER_FAILURES[reason].message.replaceAll('{provider}', displayName)
}

export function failureStatus(reason: ProviderFailureReason) {
  return PROVIDER_FAILURES[reason].status
}
