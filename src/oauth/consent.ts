/**
 * Consent: what a user allowed an app, remembered per user + client so the consent page is shown
 * once per new scope set, and revocable by the user (which also ends the app's sessions).
 * The consent page records approvals with `recordGrant`; `/auth/authorize` asks `findGrant` and
 * `grantCovers` whether it may skip the page.
 */

import { withStorage } from '../db/errors'
import type { RevocationStores } from '../revocation'
import { revokeTokenFamily } from '../tokens'
import {
  type ConsentGrant,
  deleteConsentGrant,
  findClientSessionFamilies,
  findConsentGrant,
  listConsentGrants,
  upsertConsentGrant,
} from './consent-store'

export type { ConsentGrant }

/** Remembers an approval; scopes and roles approved earlier stay approved (the union is stored). */
export async function recordGrant(
  db: D1Database,
  input: { userId: string; clientId: string; scopes: readonly string[]; roles?: readonly string[] },
): Promise<ConsentGrant> {
  const existing = await findGrant(db, input)
  const scopes = [...new Set([...(existing?.scopes ?? []), ...input.scopes])].sort()
  const roles = [...new Set([...(existing?.roles ?? []), ...(input.roles ?? [])])].sort()
  const grant = await withStorage('record consent', () => upsertConsentGrant(db, { ...input, scopes, roles }))
  if (!grant) throw new Error('recordGrant: the upsert returned no row')
  return grant
}

export function findGrant(
  db: D1Database,
  input: { userId: string; clientId: string },
): Promise<ConsentGrant | undefined> {
  return withStorage('consent lookup', () => findConsentGrant(db, input.userId, input.clientId))
}

/** Whether an earlier approval covers every scope now requested. */
export function grantCovers(grant: ConsentGrant | undefined, scopes: readonly string[]): boolean {
  return grant !== undefined && scopes.every((scope) => grant.scopes.includes(scope))
}

/** Whether an earlier approval named every role the app would act with now (none needs none). */
export function grantCoversRoles(grant: ConsentGrant | undefined, roles: readonly string[]): boolean {
  return roles.every((role) => grant?.roles.includes(role) === true)
}

export function listGrants(db: D1Database, userId: string): Promise<ConsentGrant[]> {
  return withStorage('consent list', () => listConsentGrants(db, userId))
}

/**
 * Withdraws consent and ends every session the user has with that client (its refresh tokens and
 * their live access tokens). Returns false when there was neither a grant nor a live session.
 */
export async function revokeGrant(
  stores: RevocationStores,
  input: { userId: string; clientId: string; clockSkewSeconds?: number },
): Promise<boolean> {
  const [removed, families] = await withStorage('revoke consent', () =>
    Promise.all([
      deleteConsentGrant(stores.DB, input.userId, input.clientId),
      findClientSessionFamilies(stores.DB, input.userId, input.clientId),
    ]),
  )
  for (const { familyId } of families) {
    await revokeTokenFamily(stores, familyId, { clockSkewSeconds: input.clockSkewSeconds })
  }
  return removed || families.some((family) => family.live)
}
