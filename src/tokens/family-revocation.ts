import { withStorage } from '../db/errors'
import {
  type DenyOptions,
  MAX_CLOCK_SKEW_SECONDS,
  type RevocationStores,
  revokeAccessToken,
} from '../revocation'
import { liveFamilyAccessTokens, revokeFamily } from './refresh-store'

/**
 * Ends one login session of an app or a user's sign-in (a refresh-token family): the family and
 * every live access token issued in it.
 */
export async function revokeTokenFamily(
  stores: RevocationStores,
  familyId: string,
  options: DenyOptions = {},
): Promise<void> {
  const tokens = await withStorage('end session', async () => {
    await revokeFamily(stores.DB, familyId)
    return liveFamilyAccessTokens(stores.DB, familyId, options.clockSkewSeconds ?? MAX_CLOCK_SKEW_SECONDS)
  })
  for (const token of tokens) {
    await revokeAccessToken(
      stores,
      { jti: token.jti, subject: token.user_id, expiresAt: token.expires_at },
      options,
    )
  }
}
