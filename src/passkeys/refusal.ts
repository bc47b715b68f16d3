/**
 * Why a ceremony was refused: a closed set, audited as `passkey_refused` (`details.reason`) and
 * turned into one GatewayError by the routes (refusalError). Thrown inside the room only, as
 * login-providers' ProviderLoginFailure is.
 */
export const REFUSALS = {
  malformed: 'The passkey response is malformed.',
  wrong_type: 'The passkey response is for another kind of ceremony.',
  wrong_origin: 'The passkey response comes from another origin.',
  cross_origin: 'The passkey response comes from a frame of another origin.',
  unknown_challenge: 'This passkey request is unknown or was already answered: start again.',
  expired_challenge: 'This passkey request has expired: start again.',
  other_browser: 'This passkey request was started in another browser: start again.',
  wrong_purpose: 'This passkey request was started for another ceremony: start again.',
  other_user: 'This passkey request was started for another account: start again.',
  wrong_rp_id: 'The passkey belongs to another site.',
  user_not_present: 'The authenticator did not confirm your presence.',
  user_not_verified: 'The authenticator did not verify you (PIN, fingerprint or face): it must.',
  unsupported_algorithm: 'This passkey uses an algorithm the gateway does not accept (ES256, EdDSA, RS256).',
  credential_id_mismatch: 'The passkey response names two different credentials.',
  credential_taken: 'This passkey is already registered.',
  unknown_credential: 'This passkey is not registered here.',
  user_handle_mismatch: 'This passkey does not belong to the account it names.',
  bad_signature: 'The passkey signature is not valid.',
  cloned_counter: 'This passkey may have been copied (its signature counter went back): it is refused.',
  account_unavailable: 'This account cannot sign in.',
} as const

export type RefusalReason = keyof typeof REFUSALS

export class CeremonyRefused extends Error {
  readonly reason: RefusalReason
  /** The passkey concerned, when the refusal got that far (for the audit event). */
  readonly passkeyId?: string
  readonly userId?: string

  constructor(reason: RefusalReason, known: { passkeyId?: string; userId?: string } = {}) {
    super(REFUSALS[reason])
    this.name = 'CeremonyRefused'
    this.reason = reason
    this.passkeyId = known.passkeyId
    this.userId = known.userId
  }
}

export function refuse(reason: RefusalReason, known?: { passkeyId?: string; userId?: string }): never {
  throw new CeremonyRefused(reason, known)
}
