/**
 * What the admin API's route modules share: the admin guard, the documented error responses,
 * and cursors.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AdminAction } from '../accounts'
import { authenticate, currentPrincipal, requireFirstParty, requireRole, requireSecondFactor } from '../authn'
import { fromBase64Url, toBase64Url } from '../crypto/bytes'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import type { ResponseSpec } from './openapi'
import { ErrorBody } from './schemas'

export function adminApp(): Hono<AppBindings> {
  return new Hono<AppBindings>()
}

/**
 * Admins only: our access token (revocation checked in D1, the truth: an admin token ended by
 * logout-all must not keep administering while KV lags) or the browser session, whose unsafe
 * requests pass the CSRF guard in loadPrincipal; never a token an app obtained for the admin
 * (requireFirstParty), whatever roles it carries. API keys are not accepted: a long-lived key
 * should not carry the power to mint users and clients. With `require_mfa_for_admin`, only a
 * sign-in with a second factor or a passkey administers (RFC 9470 step-up otherwise).
 */
export const requireAdmin = [
  authenticate({ credentials: ['jwt', 'session'], revocation: 'strict' }),
  requireFirstParty,
  requireRole('admin'),
  // With `require_mfa_for_admin`, the admin role acts only from a sign-in with a second factor.
  requireSecondFactor((settings) => settings.require_mfa_for_admin),
] as const

export function adminAction(c: Context<AppBindings>): AdminAction {
  const { config, audit } = c.var.ctx
  return { stores: c.env, settings: config.settings, audit, actorId: currentPrincipal(c).id }
}

const json = (description: string): ResponseSpec => ({ description, schema: ErrorBody })

/** The errors every admin operation can answer with, documented once. */
export const ERROR_RESPONSES = {
  400: json('Invalid request (`invalid_request`)'),
  401: json('No valid credentials (`invalid_token`, `invalid_credentials`)'),
  403: json(
    'Not an admin (`forbidden`), a token issued to an app (`insufficient_scope`), or a cross-site session request (`csrf_failed`)',
  ),
} as const
export const NOT_FOUND = { 404: json('No such object (`not_found`)') } as const
export const CONFLICT = { 409: json('Already exists (`conflict`)') } as const

export const SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }]

/** Cursors are opaque: base64url of the last item's sort key. */
export function encodeCursor(key: string | undefined): string | null {
  return key === undefined ? null : toBase64Url(new TextEncoder().encode(key))
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('shape')
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(fromBase64Url(cursor))
  } catch {
    throw new GatewayError('invalid_request', 'cursor: not a cursor this API returned.')
  }
}

/** One page: `limit` items and a cursor when one more exists (fetch limit + 1 to know). */
export function page<T>(rows: T[], limit: number, key: (row: T) => string) {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, next_cursor: rows.length > limit && last ? encodeCursor(key(last)) : null }
}

export const NO_STORE = { 'cache-control': 'no-store' } as const
