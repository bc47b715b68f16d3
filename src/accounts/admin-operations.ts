/**
 * What the admin API does to users, as the operator CLI does it (scripts/lib/admin-users.ts):
 * disable ends every session and token and suspends the user's API keys; revoke ends every
 * credential without disabling; delete ends everything and removes the account. Every change is
 * audited with the admin as actor.
 */

import { endUserApiKeys } from '../api-keys'
import type { AuditSink } from '../audit'
import type { Settings } from '../config/schema'
import { withStorage } from '../db/errors'
import { endEmailTokens } from '../email'
import { GatewayError } from '../errors/gateway-error'
import { resetFactors } from '../second-factor'
import { revokeSubject } from '../sessions'
import {
  checkPassword,
  deleteUserRow,
  findUserById,
  hashPassword,
  insertUser,
  normalizeEmail,
  setUserEmail,
  type User,
  updateUser,
} from '../users'

export interface AdminStores {
  DB: D1Database
  KV: KVNamespace
  PASSWORD_PEPPER?: string
}

export interface AdminAction {
  stores: AdminStores
  settings: Settings
  audit?: AuditSink
  /** The admin's principal id. */
  actorId: string
}

export interface UserView {
  id: string
  username: string
  roles: string[]
  disabled: boolean
  created_at: number
  updated_at: number
  password_changed_at: number
  email: string | null
  email_verified: boolean
}

export function viewUser(user: User): UserView {
  return {
    id: user.id,
    username: user.username,
    roles: user.roles,
    disabled: user.disabled,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    password_changed_at: user.passwordChangedAt,
    email: user.email,
    email_verified: user.emailVerified,
  }
}

function noSuchUser(): GatewayError {
  return new GatewayError('not_found', 'No user has that id.')
}

export async function requireUser(db: D1Database, id: string): Promise<User> {
  const user = await withStorage('user lookup', () => findUserById(db, id))
  if (!user) throw noSuchUser()
  return user
}

export async function createUserAsAdmin(
  action: AdminAction,
  input: { username: string; password: string; roles?: string[] },
): Promise<User> {
  const check = checkPassword(input.password, { username: input.username })
  if (!check.ok) throw new GatewayError('invalid_request', check.message)
  const passwordHash = await hashPassword(input.password, {
    pepper: action.stores.PASSWORD_PEPPER || undefined,
  })
  const roles = [...new Set(input.roles ?? action.settings.default_roles)]
  const user = await withStorage('create user', () =>
    insertUser(action.stores.DB, { username: input.username, passwordHash, roles }),
  )
  if (!user) throw new GatewayError('conflict', 'That username is taken.')
  action.audit?.record({
    type: 'user_created',
    actorId: action.actorId,
    subjectId: user.id,
    details: { username: user.username, roles: user.roles, via: 'admin_api' },
  })
  return user
}

/** Ends every token, refresh token and browser session of the user (not API keys). */
async function endSessions(action: AdminAction, userId: string): Promise<number> {
  const { settings } = action
  return revokeSubject(action.stores, userId, settings.access_token_ttl_seconds, {
    clockSkewSeconds: settings.clock_skew_seconds,
  })
}

export async function updateUserAsAdmin(
  action: AdminAction,
  id: string,
  changes: { roles?: string[]; disabled?: boolean; email?: string | null; email_verified?: boolean },
): Promise<User> {
  const before = await requireUser(action.stores.DB, id)
  await updateEmailAsAdmin(action, before, changes)
  const roles = changes.roles === undefined ? undefined : [...new Set(changes.roles)]
  const user = await withStorage('update user', () =>
    updateUser(action.stores.DB, id, { roles, disabled: changes.disabled }),
  )
  if (!user) throw noSuchUser()
  const event = { actorId: action.actorId, subjectId: id }
  if (roles !== undefined && roles.join(' ') !== before.roles.join(' ')) {
    action.audit?.record({ type: 'roles_changed', ...event, details: { from: before.roles, to: user.roles } })
  }
  if (changes.disabled === true && !before.disabled) {
    // As the CLI's disable: sessions and tokens end for good, keys are suspended (enable revives them).
    await endSessions(action, id)
    await endUserApiKeys(action.stores, id, { revoke: false })
    action.audit?.record({ type: 'user_disabled', ...event })
  } else if (changes.disabled === false && before.disabled) {
    action.audit?.record({ type: 'user_enabled', ...event })
  }
  action.audit?.record({ type: 'user_updated', ...event, details: { fields: Object.keys(changes) } })
  return user
}

/**
 * `email` and/or `email_verified` from PATCH /admin/users/{id}: the admin vouches for the address,
 * so a verified one wins over an unverified holder (users/store.ts); one another user holds
 * verified is a 409. A new address ends the user's pending emailed links (a reset link mailed to
 * the old one), as the user's own change does.
 */
async function updateEmailAsAdmin(
  action: AdminAction,
  before: User,
  changes: { email?: string | null; email_verified?: boolean },
): Promise<void> {
  if (changes.email === undefined && changes.email_verified === undefined) return
  let email = before.email
  if (changes.email !== undefined) {
    email = changes.email === null ? null : (normalizeEmail(changes.email) ?? null)
    if (changes.email !== null && email === null)
      throw new GatewayError('invalid_request', 'The email address is not valid.')
  }
  const verified = changes.email_verified ?? (email === before.email ? before.emailVerified : false)
  const set = await withStorage('set email', () => setUserEmail(action.stores.DB, before.id, email, verified))
  if (!set) throw new GatewayError('conflict', 'Another user holds that address.')
  if (email !== before.email)
    await withStorage('end email tokens', () => endEmailTokens(action.stores.DB, before.id))
}

/** Ends every credential (tokens, sessions, API keys) without disabling: the CLI's revoke-user. */
export async function revokeUserAsAdmin(
  action: AdminAction,
  id: string,
): Promise<{ notBeforeMs: number; apiKeysRevoked: number }> {
  await requireUser(action.stores.DB, id)
  const notBeforeMs = await endSessions(action, id)
  const apiKeysRevoked = await endUserApiKeys(action.stores, id, { revoke: true })
  action.audit?.record({
    type: 'admin_action',
    actorId: action.actorId,
    subjectId: id,
    details: { action: 'revoke_user', api_keys_revoked: apiKeysRevoked },
  })
  return { notBeforeMs, apiKeysRevoked }
}

/** Ends everything the user holds, then removes the account (its audit events stay). */
export async function deleteUserAsAdmin(action: AdminAction, id: string): Promise<void> {
  const user = await requireUser(action.stores.DB, id)
  await endSessions(action, id)
  await endUserApiKeys(action.stores, id, { revoke: true })
  // Its TOTP secret and recovery codes go with it (no foreign keys cascade in this schema).
  await resetFactors(action.stores.DB, id)
  if (!(await withStorage('delete user', () => deleteUserRow(action.stores.DB, id)))) throw noSuchUser()
  action.audit?.record({
    type: 'user_deleted',
    actorId: action.actorId,
    subjectId: id,
    details: { username: user.username },
  })
}
