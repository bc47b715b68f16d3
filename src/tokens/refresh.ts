import { hmacSha256, randomToken, sha256Hex, toBase64Url } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'
import { withStorage } from '../storage/errors'
import { nowSeconds } from '../storage/json'
import {
  findRefreshToken,
  insertRefreshToken,
  type RefreshTokenRow,
  rotateRefreshToken,
} from '../storage/refresh-tokens'
import type { KeyRing } from './signing-keys'

export const REFRESH_TOKEN_PREFIX = 'rt_'
const REFRESH_TOKEN_SHAPE = /^rt_[A-Za-z0-9_-]{43}$/
/**
 * A client that retries a refresh (lost response, two tabs) within this window gets the same
 * successor instead of tripping reuse detection, as Supabase does with its 10 s reuse interval.
 * Outside it, presenting a used token revokes the whole family.
 */
export const REFRESH_REUSE_GRACE_SECONDS = 10

export function invalidGrant(description: string): GatewayError {
  return new GatewayError('invalid_grant', description)
}

/** A new refresh token for a new session (family); stored only as its SHA-256. */
export async function createRefreshToken(
  db: D1Database,
  input: { userId: string; clientId?: string; scope: string; ttlSeconds: number; authTime?: number },
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
    }),
  )
  return { token, familyId }
}

/**
 * The successor of a refresh token is derived (HMAC with a server secret), not random, so every
 * concurrent or retried rotation of the same parent computes the same successor and the store
 * can hand the losers of the race the winner's token without keeping plaintext.
 */
async function successorOf(ring: KeyRing, parent: string): Promise<string> {
  return REFRESH_TOKEN_PREFIX + toBase64Url(await hmacSha256(ring.successorSecret, parent))
}

export function isRefreshTokenShape(token: string): boolean {
  return REFRESH_TOKEN_SHAPE.test(token)
}

export type RotationOutcome =
  | { kind: 'rotated'; row: RefreshTokenRow; successor: string }
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

/** Rotates `token`: exactly one winner; retries within the grace window get the same successor. */
export async function rotate(
  db: D1Database,
  ring: KeyRing,
  token: string,
  row: RefreshTokenRow,
  ttlSeconds: number,
): Promise<RotationOutcome> {
  const successor = await successorOf(ring, token)
  const successorHash = await sha256Hex(successor)
  const won = await withStorage('refresh rotation', () =>
    rotateRefreshToken(db, row.token_hash, {
      tokenHash: successorHash,
      familyId: row.family_id,
      parentHash: row.token_hash,
      userId: row.user_id,
      clientId: row.client_id ?? undefined,
      scope: row.scope,
      expiresAt: nowSeconds() + ttlSeconds,
      // A refresh is not an authentication: the session keeps the time of its login.
      authTime: row.auth_time ?? undefined,
    }),
  )
  if (won) return { kind: 'rotated', row, successor }
  const [current, next] = await withStorage('refresh reuse check', () =>
    Promise.all([findRefreshToken(db, row.token_hash), findRefreshToken(db, successorHash)]),
  )
  const withinGrace =
    current?.used_at !== null &&
    current?.used_at !== undefined &&
    nowSeconds() - current.used_at <= REFRESH_REUSE_GRACE_SECONDS &&
    current.successor_hash === successorHash &&
    current.revoked_at === null &&
    next !== undefined &&
    next.used_at === null &&
    next.revoked_at === null
  return withinGrace ? { kind: 'rotated', row, successor } : { kind: 'reused', row: current ?? row }
}
