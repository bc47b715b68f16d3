import { randomToken, sha256Hex, timingSafeEqual } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds, parseStringList } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import {
  findRefreshToken,
  findRotatedParent,
  insertRefreshToken,
  isRefreshTokenLive,
  REFRESH_REUSE_GRACE_SECONDS,
  type RefreshTokenRow,
  type RotatedParent,
  rotateRefreshToken,
} from './refresh-store'
import { openSuccessor, sealSuccessor } from './successor-seal'

export { REFRESH_REUSE_GRACE_SECONDS }

export const REFRESH_TOKEN_PREFIX = 'rt_'
const REFRESH_TOKEN_SHAPE = /^rt_[A-Za-z0-9_-]{43}$/

export function invalidGrant(description: string): GatewayError {
  return new GatewayError('invalid_grant', description)
}

/** A new refresh token for a new session (family); stored only as its SHA-256. */
export async function createRefreshToken(
  db: D1Database,
  input: {
    userId: string
    clientId?: string
    scope: string
    ttlSeconds: number
    authTime?: number
    /** Recorded on every row of the family; without it the family's tokens are delegated. */
    firstParty: boolean
    /** The family's RFC 8707 resource, kept by every refresh (absent: the gateway's audience). */
    resource?: string
    /** RFC 8176 `amr` of the sign-in and the achieved `acr`, kept by every refresh. */
    amr?: readonly string[]
    acr?: string
  },
): Promise<{ token: string; familyId: string }> {
  const token = randomToken(REFRESH_TOKEN_PREFIX, 32)
  const familyId = crypto.randomUUID()
  await withStorage('store refresh token', async () =>
    insertRefreshToken(db, {
      tokenHash: await sha256Hex(token),
      familyId,
      userId: input.userId,
      clientId: input.clientId,
      scope: input.scope,
      expiresAt: nowSeconds() + input.ttlSeconds,
      authTime: input.authTime,
      firstParty: input.firstParty,
      resource: input.resource,
      amr: input.amr,
      acr: input.acr,
    }),
  )
  return { token, familyId }
}

export function isRefreshTokenShape(token: string): boolean {
  return REFRESH_TOKEN_SHAPE.test(token)
}

export type RotationOutcome =
  | { kind: 'rotated'; row: RefreshTokenRow; successor: string; successorHash: string }
  | { kind: 'reused'; row: RefreshTokenRow }

/**
 * Looks up a presented refresh token for its client. Unknown, expired, revoked and foreign-client
 * tokens are all `invalid_grant` (RFC 6749 §5.2) and leave the token untouched.
 */
export async function findUsableRefreshToken(
  db: D1Database,
  token: string,
  clientId: string | undefined,
): Promise<RefreshTokenRow> {
  if (!isRefreshTokenShape(token)) throw invalidGrant('The refresh token is invalid.')
  const hash = await sha256Hex(token)
  const row = await withStorage('refresh token lookup', () => findRefreshToken(db, hash))
  if (!row || row.revoked_at !== null || row.expires_at <= nowSeconds())
    throw invalidGrant('The refresh token is invalid.')
  if ((row.client_id ?? undefined) !== clientId)
    throw invalidGrant('The refresh token was issued to another client.')
  return row
}

/** Whether a retry of `token` may receive its sealed successor: the grace window, nothing moved on. */
function retryable(
  parent: RotatedParent | undefined,
): parent is RotatedParent & { successor_sealed: string } {
  return (
    parent !== undefined &&
    parent.used_at !== null &&
    nowSeconds() - parent.used_at <= REFRESH_REUSE_GRACE_SECONDS &&
    parent.revoked_at === null &&
    parent.successor_sealed !== null &&
    parent.successor_present === 1 &&
    parent.successor_used_at === null &&
    parent.successor_revoked_at === null
  )
}

/**
 * Rotates `token` to a random successor: exactly one concurrent caller wins and stores its
 * successor sealed under `token` (tokens/successor-seal.ts); every other caller within the grace
 * window opens that seal and gets the same successor. Anything else is reuse.
 */
export async function rotate(
  db: D1Database,
  token: string,
  row: RefreshTokenRow,
  ttlSeconds: number,
): Promise<RotationOutcome> {
  const successor = randomToken(REFRESH_TOKEN_PREFIX, 32)
  const successorHash = await sha256Hex(successor)
  const sealed = await sealSuccessor(token, row.token_hash, successor)
  const won = await withStorage('refresh rotation', () =>
    rotateRefreshToken(
      db,
      { tokenHash: row.token_hash, parentHash: row.parent_hash },
      {
        tokenHash: successorHash,
        familyId: row.family_id,
        parentHash: row.token_hash,
        userId: row.user_id,
        clientId: row.client_id ?? undefined,
        scope: row.scope,
        expiresAt: nowSeconds() + ttlSeconds,
        sealed,
        // A refresh is not an authentication: the session keeps the time of its login.
        authTime: row.auth_time ?? undefined,
        firstParty: row.first_party === 1,
        resource: row.resource ?? undefined,
        amr: row.amr === null ? undefined : parseStringList(row.amr),
        acr: row.acr ?? undefined,
      },
    ),
  )
  if (won) return { kind: 'rotated', row, successor, successorHash }
  const parent = await withStorage('refresh reuse check', () => findRotatedParent(db, row.token_hash))
  if (!retryable(parent)) return { kind: 'reused', row: parent ?? row }
  const winner = await openSuccessor(token, row.token_hash, parent.successor_sealed)
  const winnerHash = winner === undefined ? '' : await sha256Hex(winner)
  if (winner === undefined || !timingSafeEqual(winnerHash, parent.successor_hash ?? ''))
    return { kind: 'reused', row: parent }
  return { kind: 'rotated', row, successor: winner, successorHash: winnerHash }
}

/**
 * The refresh grant's last step, after the new access token is signed and recorded: the
 * successor must still be unrevoked. Logout-all revokes refresh tokens first and only then takes
 * its not-before instant (sessions/revoke-subject.ts), so a refresh that rotated just
 * before the revocation either signed its access token before that instant (void by not-before)
 * or reads its successor here after the revocation committed and returns nothing. Ending one
 * session (revokeTokenFamily) is covered the same way: it revokes the family, then denies the access
 * tokens recorded so far, and a token recorded later is never returned.
 */
export async function assertRotationStillLive(db: D1Database, successorHash: string): Promise<void> {
  const live = await withStorage('refresh final check', () => isRefreshTokenLive(db, successorHash))
  if (!live) throw invalidGrant('The session was ended while the token was being refreshed.')
}
