// Second factors after a password or provider sign-in: TOTP and recovery codes (issue 22, item 2).
// Passkeys live in src/passkeys/; both count as "a second factor" for users.mfa_enabled.

export {
  type FactorSummary,
  factorSummary,
  resetFactors,
  type SecondFactorStores,
} from './service'
