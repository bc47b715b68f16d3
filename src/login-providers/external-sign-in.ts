/**
 * Who an external identity signs in as. In order: the user the identity is linked to; else, when
 * the provider may register users, a new user with an unusable password; else nobody. Joining an
 * existing account happens only by explicit linking (a signed-in user, linkExternalIdentity).
 *
 * Never by username: `link_by_verified_email` used to join the user whose username equalled the
 * provider's verified email, but a username proves nothing about an address: anyone who registers
 * (or a provider that creates users from `preferred_username`) chooses it, so whoever planted the
 * victim's address as a username received the victim's later sign-in (account pre-hijacking).
 * Until accounts carry an address the gateway verified, there is nothing safe to match, so the
 * option joins nothing (config refuses it with open registration: config/login-providers.ts).
 */
import type { LoginProviderConfig } from '../config/login-providers'
import { withStorage } from '../db/errors'
import { findUserById, type User } from '../users'
import { ProviderLoginFailure } from './failure'
import { findIdentity, insertIdentity, insertIdentityStatement, touchIdentity } from './identity-store'
import { rolesForNewUser, usernameBase } from './policy'
import type { ExternalProfile } from './profile'

/**
 * The password hash of a user created through a provider: not a hash any format parses, so every
 * password check fails until the user or an operator sets a password.
 */
export const NO_PASSWORD_PREFIX = '!external:'

const MAX_USERNAME_TRIES = 20

export interface SignInTarget {
  user: User
  /** A new user and its identity were written by this sign-in. */
  created: boolean
}

function usable(user: User | undefined): User {
  if (!user || user.disabled)
    throw new ProviderLoginFailure('account_disabled', 'linked user disabled or gone')
  return user
}

/** Creates the user and its identity in one D1 batch (a transaction): never one without the other. */
async function registerUser(
  db: D1Database,
  provider: LoginProviderConfig,
  profile: ExternalProfile,
  roles: string[],
): Promise<User> {
  const base = usernameBase(profile.usernameHint, provider.name)
  for (let attempt = 0; attempt < MAX_USERNAME_TRIES; attempt++) {
    const username = attempt === 0 ? base : `${base}-${attempt + 1}`
    const id = crypto.randomUUID()
    const now = Math.floor(Date.now() / 1000)
    const insertUser = db
      .prepare(
        `INSERT INTO users (id, username, password_hash, roles, disabled, created_at, updated_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5, ?5)`,
      )
      .bind(id, username, `${NO_PASSWORD_PREFIX}${provider.name}`, JSON.stringify(roles), now)
    const link = insertIdentityStatement(db, {
      provider: provider.name,
      subject: profile.subject,
      userId: id,
      email: profile.emailVerified ? profile.email : null,
      display: profile.display,
    })
    try {
      await db.batch([insertUser, link])
      return usable(await withStorage('read new user', () => findUserById(db, id)))
    } catch (error) {
      // Another tab registered the same identity first: sign in as that user.
      const raced = await withStorage('identity lookup', () =>
        findIdentity(db, provider.name, profile.subject),
      )
      if (raced) return usable(await withStorage('user lookup', () => findUserById(db, raced.user_id)))
      if (!/UNIQUE/i.test(String(error))) return withStorage('register user', () => Promise.reject(error))
      // The username is taken: try the next suffix.
    }
  }
  throw new ProviderLoginFailure('no_account', 'no free username for the new user')
}

export async function resolveExternalUser(
  db: D1Database,
  provider: LoginProviderConfig,
  profile: ExternalProfile,
  globalDefaultRoles: readonly string[],
): Promise<SignInTarget> {
  const email = profile.emailVerified ? profile.email : null
  const linked = await withStorage('identity lookup', () => findIdentity(db, provider.name, profile.subject))
  if (linked) {
    const user = usable(await withStorage('user lookup', () => findUserById(db, linked.user_id)))
    await withStorage('identity touch', () =>
      touchIdentity(db, provider.name, profile.subject, email, profile.display),
    )
    return { user, created: false }
  }
  // `link_by_verified_email` has nothing safe to match yet (see the top of this file).
  if (!provider.registration)
    throw new ProviderLoginFailure('no_account', 'not linked and registration is off')
  const roles = rolesForNewUser(provider, profile, globalDefaultRoles)
  return { user: await registerUser(db, provider, profile, roles), created: true }
}

/** Links the identity to a signed-in user (explicit linking from the account page). */
export async function linkExternalIdentity(
  db: D1Database,
  provider: LoginProviderConfig,
  profile: ExternalProfile,
  userId: string,
): Promise<void> {
  const input = {
    provider: provider.name,
    subject: profile.subject,
    userId,
    email: profile.emailVerified ? profile.email : null,
    display: profile.display,
  }
  if (await withStorage('link identity', () => insertIdentity(db, input))) return
  const existing = await withStorage('identity lookup', () =>
    findIdentity(db, provider.name, profile.subject),
  )
  if (existing?.user_id !== userId) throw new ProviderLoginFailure('already_linked', 'linked to another user')
}
