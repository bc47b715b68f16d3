/**
 * What a provider's configuration allows, decided on the profile alone (pure). Domain checks use
 * only an email the provider asserts as verified: an unverified address proves nothing about who
 * holds it.
 */
import type { LoginProviderConfig } from '../config/login-providers'
import type { ExternalProfile } from './profile'

export type AllowDecision = { allow: true } | { allow: false; why: string }

function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase()
}

export function checkAllowed(provider: LoginProviderConfig, profile: ExternalProfile): AllowDecision {
  if (provider.allowed_email_domains.length > 0) {
    if (!profile.email || !profile.emailVerified) return { allow: false, why: 'no verified email' }
    if (!provider.allowed_email_domains.includes(emailDomain(profile.email)))
      return { allow: false, why: 'email domain not allowed' }
  }
  if (provider.kind === 'github' && provider.allowed_orgs.length > 0) {
    const orgs = new Set(profile.groups.map((org) => org.toLowerCase()))
    if (!provider.allowed_orgs.some((org) => orgs.has(org.toLowerCase())))
      return { allow: false, why: 'not a member of an allowed organization' }
  }
  return { allow: true }
}

/** Roles of a user this provider creates: its default_roles (or the global ones) plus role_map's. */
export function rolesForNewUser(
  provider: LoginProviderConfig,
  profile: ExternalProfile,
  globalDefaults: readonly string[],
): string[] {
  const roles = new Set(provider.default_roles ?? globalDefaults)
  // GitHub organization logins are case-insensitive; OIDC claim values are compared as sent.
  const fold = provider.kind === 'github' ? (value: string) => value.toLowerCase() : (value: string) => value
  const held = new Set(profile.groups.map(fold))
  for (const [value, mapped] of Object.entries(provider.role_map))
    if (held.has(fold(value))) for (const role of mapped) roles.add(role)
  return [...roles].sort()
}

/**
 * A username from the provider's hint: the characters our usernames allow (users/username.ts),
 * at least 3 and at most 56 of them (room for a "-NN" suffix). De-duplication is the caller's.
 */
export function usernameBase(hint: string, provider: string): string {
  let base = hint
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._+-]/g, '')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 56)
  if (base.length < 3) base = `${provider}-user`.slice(0, 56)
  return base
}
