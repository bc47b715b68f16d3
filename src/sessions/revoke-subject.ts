import { withStorage } from '../db/errors'
import { type DenyOptions, denySubject, type RevocationStores } from '../revocation'
import { revokeUserRefreshTokens } from '../tokens'
import { endAllUserSessions } from './store'

/**
 * Voids every access token of a subject issued until now, and every refresh token and browser
 * session of a user:
 * logout-all, disable, password change, admin "revoke all". Returns the not-before instant (ms).
 *
 * The order is what makes "nothing minted concurrently survives" hold:
 * 1. Revoke the refresh tokens. From this commit on no rotation can succeed (its conditional
 *    UPDATE requires an unrevoked parent), and every successor already inserted is revoked too.
 * 2. Only then take the not-before instant, one millisecond past the clock, so every access token
 *    signed up to now, including the same millisecond, is void.
 * A refresh that rotated before step 1 signs its access token either before that instant (void)
 * or after it, and then its final check (tokens/refresh.ts assertRotationStillLive) runs after
 * step 1 committed, sees its successor revoked, and returns nothing. With the steps the other way
 * round, a refresh committing between them signed after not-before and kept a live access token.
 * The KV entry only needs to outlive the longest access token.
 */
export async function revokeSubject(
  stores: RevocationStores,
  subject: string,
  accessTokenTtlSeconds: number,
  options: DenyOptions = {},
): Promise<number> {
  await withStorage('revoke subject', async () => {
    await revokeUserRefreshTokens(stores.DB, subject)
    // Browser sessions outlive the KV entry below, so their rows end too: once the entry expires,
    // their cached copies (60 s) have long been refilled from these rows. (A client subject has
    // no browser sessions: nothing to end.)
    await endAllUserSessions(stores.DB, subject, Math.floor(Date.now() / 1000))
  })
  return denySubject(stores, subject, accessTokenTtlSeconds, options)
}
