/**
 * Who an external identity signs in as. In order: the user the identity is linked to; else, with
 * `link_by_verified_email`, the local user whose address the gateway holds **verified** and equal
 * to the provider's verified email (the identity is linked to it); else, when the provider may
 * register users, a new user with an unusable password (and the provider's verified address, if
 * no other user holds it verified); else nobody. Otherwise joining an existing account happens
 * only by explicit linking (a signed-in user, linkExternalIdentity).
 *
 * Never by username: `link_by_verified_email` once joined the user whose username equalled the
 * provider's verified email, but a username proves nothing about an address: anyone who registers
 * (or a provider that creates users from `preferred_username`) chooses it, so whoever planted the
 * victim's address as a username received the victim's later sign-in (account pre-hijacking). An
 * unverified address proves nothing either (anyone may type any address at registration), so
 * only `users.email_verified = 1` is matched. Config still refuses the option while registration
 * is open (config/login-providers.ts says why).
 */
import type { LoginProviderConfig } from '../config/login-providers'
import { withStorage } from '../db/errors'
import { findUserByEmail, findUserById, normalizeEmail, setUserEmail, type User } from '../users'
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
  /** The identity was linked by this sign-in to an existing user holding its verified address. */
  joinedByEmail?: boolean
}

/** The provider's email, normalized, when the provider asserts it verified; else null. */
function verifiedEmailOf(profile: ExternalProfile): string | null {
  return profile.emailVerified ? (normalizeEmail(profile.email) ?? null) : null
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
      const email = verifiedEmailOf(profile)
      // The provider vouches for it: taken from an unverified holder, never from a verified one.
      if (email) await withStorage('set email', () => setUserEmail(db, id, email, true))
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
  if (provider.link_by_verified_email) {
    const joined = await joinVerifiedHolder(db, provider, profile)
    if (joined) return { user: joined, created: false, joinedByEmail: true }
  }
  if (!provider.registration)
    throw new ProviderLoginFailure('no_account', 'not linked and registration is off')
  const roles = rolesForNewUser(provider, profile, globalDefaultRoles)
  return { user: await registerUser(db, provider, profile, roles), created: true }
}

/**
 * Links the identity to the user holding the provider's verified email **verified** (never an
 * unverified holder, never a username), and returns that user; undefined when nobody does.
 */
async function joinVerifiedHolder(
  db: D1Database,
  provider: LoginProviderConfig,
  profile: ExternalProfile,
): Promise<User | undefined> {
  const email = verifiedEmailOf(profile)
  if (!email) return undefined
  const holder = await withStorage('user lookup', () => findUserByEmail(db, email))
  if (!holder?.emailVerified) return undefined
  const user = usable(holder)
  await linkExternalIdentity(db, provider, profile, user.id)
  return user
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
