export { decodeAccessToken, isPermanentFailure, MAX_TOKEN_BYTES, verifyAccessToken } from './access-token'
export { assertionFor } from './assertion'
export type { DecodedJws } from './compact-jws'
export { revokeTokenFamily } from './family-revocation'
export { type GrantContext, issueTokenResponse, type TokenResponse } from './issue'
export { type IssuerKeys, type JwksCache, jwksCache } from './jwks-cache'
export {
  assertRotationStillLive,
  createRefreshToken,
  findUsableRefreshToken,
  invalidGrant,
  isRefreshTokenShape,
  rotate,
} from './refresh'
export {
  deleteExpiredSeals,
  findRefreshToken,
  type RefreshTokenRow,
  revokeUserRefreshTokens,
} from './refresh-store'
export { type KeyRing, loadKeyRing, type SigningAlg } from './signing-keys'
export { VERIFIED_CACHE_SIZE, VerifiedTokenCache } from './verified-cache'
