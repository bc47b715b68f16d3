/**
 * How strongly a user signed in, in RFC 8176 `amr` values, and what that satisfies: a route's
 * `require_mfa`, an authorization request's `acr_values`. One module so the session, the tokens,
 * the proxy and the authorization server cannot disagree about what "a second factor" means.
 *
 * @example
 * ```ts
 * const amr = combineFactors(['pwd'], ['otp'])   // ['pwd', 'otp', 'mfa']
 * satisfiesMfa(amr)                              // true
 * satisfiesMfa(['pwd', 'mca'])                   // false: an emailed link is not a second factor
 * ```
 */

/** A passkey's `amr`: `swk` when the credential is backed up (synced), else `hwk`; `user` for UV. */
export function passkeyAmr(passkey: { backedUp: boolean; userVerified: boolean }): string[] {
  const amr = [passkey.backedUp ? 'swk' : 'hwk']
  // A verified passkey is two factors on its own: something you have and something you are/know.
  if (passkey.userVerified) amr.push('user', 'mfa')
  return amr
}

// Methods that are a factor of their own kind. `mca` (an emailed link or code) is deliberately not
// here: it proves access to a mailbox, which a password reset can also take over.
const POSSESSION = new Set(['otp', 'hwk', 'swk'])
const KNOWLEDGE_OR_FEDERATION = new Set(['pwd', 'fed'])

/**
 * The `amr` of a sign-in completed by a second step: both lists, plus `mfa` when the two are
 * distinct kinds of factor (a password and a code, a password and a passkey).
 */
export function combineFactors(first: readonly string[], second: readonly string[]): string[] {
  const amr = [...new Set([...first, ...second])].filter((value) => value !== 'mfa')
  const twoKinds =
    amr.some((value) => KNOWLEDGE_OR_FEDERATION.has(value)) && amr.some((value) => POSSESSION.has(value))
  // A verified passkey arrives with `mfa` already (passkeyAmr): it stays multi-factor.
  if (twoKinds || satisfiesMfa(first) || satisfiesMfa(second)) amr.push('mfa')
  return amr
}

/** Whether a sign-in with this `amr` counts as multi-factor (`require_mfa`, acr `mfa`). */
export function satisfiesMfa(amr: readonly string[] | undefined): boolean {
  return amr?.includes('mfa') === true
}

/** Whether a passkey was used (acr `phr`: phishing-resistant, OpenID EAP ACR Values). */
export function usedPasskey(amr: readonly string[] | undefined): boolean {
  return amr?.includes('hwk') === true || amr?.includes('swk') === true
}

/** The `acr` values the authorization server understands (`acr_values_supported`). */
export const SUPPORTED_ACR_VALUES = ['phr', 'mfa'] as const
export type AcrValue = (typeof SUPPORTED_ACR_VALUES)[number]

export function satisfiesAcr(acr: AcrValue, amr: readonly string[] | undefined): boolean {
  return acr === 'phr' ? usedPasskey(amr) && satisfiesMfa(amr) : satisfiesMfa(amr)
}

/**
 * The `acr` a sign-in achieved among those requested, in the request's order of preference (OIDC
 * Core §3.1.2.1), or undefined when it meets none of them.
 */
export function achievedAcr(
  requested: readonly string[],
  amr: readonly string[] | undefined,
): AcrValue | undefined {
  for (const value of requested) {
    if ((SUPPORTED_ACR_VALUES as readonly string[]).includes(value) && satisfiesAcr(value as AcrValue, amr))
      return value as AcrValue
  }
  return undefined
}
