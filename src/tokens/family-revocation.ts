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
 * every live access token issued in it. Returns the jtis it denied, so a caller that also denies a
 * token of its own does not write the same KV key twice (KV refuses a second write to a key within
 * a second with 429).
 */
export async function revokeTokenFamily(
  stores: RevocationStores,
  familyId: string,
  options: DenyOptions = {},
): Promise<Set<string>> {
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
  return new Set(tokens.map((token) => token.jti))
}
