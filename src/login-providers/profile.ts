/** Who the provider says signed in, reduced to what the gateway uses. */
export interface ExternalProfile {
  /** The provider's stable id: OIDC `sub`, GitHub's numeric user id. */
  subject: string
  email: string | null
  /** Only true when the provider asserts it (OIDC `email_verified: true`, GitHub's verified primary). */
  emailVerified: boolean
  /** preferred_username, GitHub login, or the email's local part: the seed of a new username. */
  usernameHint: string
  /** Shown on the identities page. */
  display: string
  /** What role_map maps: the `roles_claim` values (OIDC) or organization logins (GitHub). */
  groups: string[]
}
