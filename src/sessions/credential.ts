/**
 * Loader for `session`: the browser session cookie. The CSRF guard a request the cookie
 * authenticated must also pass is in csrf-guard.ts; `loadPrincipal` applies it once it knows the
 * cookie is what authenticated the request.
 */

import type { Context } from 'hono'
import type { Principal } from '../authz/principal'
import { scopesForRoles } from '../authz/scopes'
import type { CredentialInput } from '../credential-input'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import type { CachedSession } from './cache'
import { cookieNames, readCookieValues } from './cookies'
import { resolveSession } from './service'

export function invalidSession(): GatewayError {
  return new GatewayError('invalid_credentials', 'The session has ended or expired; sign in again.', {
    challenge: { scheme: 'Bearer' },
  })
}

/**
 * The session cookie value, undefined without one. Only the name for ISSUER's scheme counts (an
 * unprefixed cookie on an https deployment could have been planted by a sibling host), and two
 * values under that name (one planted beside ours) are refused rather than settled by picking one.
 */
export function readSessionCookie(request: Request, issuer: string): string | undefined {
  const values = readCookieValues(request.headers.get('cookie'), cookieNames(issuer).session)
  if (values.length > 1) throw invalidSession()
  return values[0]
}

const PROVIDER_METHOD = 'provider:'

/**
 * RFC 8176 `amr` of a session: stored since 0015; a record cached before that gets what its
 * auth method said.
 */
export function sessionAmr(record: Pick<CachedSession, 'amr' | 'authMethod'>): string[] {
  if (record.amr) return record.amr
  if (record.authMethod?.startsWith(PROVIDER_METHOD)) return ['fed']
  return record.authMethod === 'password' ? ['pwd'] : []
}

/** `amr`, `auth_time` and the login provider of a session. */
export function sessionAuthentication(
  record: Pick<CachedSession, 'amr' | 'authMethod' | 'authTime'>,
): Pick<Principal, 'amr' | 'loginProvider' | 'authTime'> {
  const amr = sessionAmr(record)
  return {
    ...(amr.length > 0 ? { amr } : {}),
    ...(record.authTime !== undefined ? { authTime: record.authTime } : {}),
    ...(record.authMethod?.startsWith(PROVIDER_METHOD)
      ? { loginProvider: record.authMethod.slice(PROVIDER_METHOD.length) }
      : {}),
  }
}

// The principal built from a cached session record, per record object: while the isolate reuses
// a record (at most SESSION_ISOLATE_CACHE_MS), its requests share one principal instead of
// rebuilding scopes each time. The record is checked (ended, expired, idle, revoked) on every
// request before this; entries die with their record (a WeakMap, so no bound of its own).
const principals = new WeakMap<object, { config: object; tokenHash: string; principal: Principal }>()

export async function loadSession(input: CredentialInput): Promise<Principal | undefined> {
  const value = readSessionCookie(input.request, input.config.issuer)
  if (value === undefined) return undefined
  const { config } = input
  const result = await resolveSession(input.env, config.settings, value, {
    strict: input.strictRevocation,
    waitUntil: input.waitUntil,
    touch: !input.observeOnly,
  })
  if ('rejected' in result) throw invalidSession()
  const { record, tokenHash } = result
  const known = principals.get(record)
  if (known?.config === config && known.tokenHash === tokenHash) return known.principal
  const principal: Principal = {
    method: 'session',
    id: record.userId,
    username: record.username,
    roles: record.roles,
    scopes: [...scopesForRoles(record.roles, config.roleClosure, config.settings.role_scopes)].sort(),
    expiresAt: record.expiresAt,
    browserSession: { id: record.id, tokenHash },
    // The user at the gateway's own pages: never an app acting for them.
    firstParty: true,
    ...sessionAuthentication(record),
  }
  principals.set(record, { config, tokenHash, principal })
  return principal
}

/** The signed-in browser session of a request, for endpoints that work with or without one. */
export interface CurrentSession {
  id: string
  userId: string
  username: string
  roles: string[]
  /** When the user signed in, unix seconds. */
  authTime: number
  authMethod: string
  /** RFC 8176 methods of the sign-in. */
  amr: string[]
  /** The cookie value (the CSRF token of its forms is derived from it). */
  value: string
  tokenHash: string
}

/**
 * The live session the request's cookie names, read from D1 (the authorization server issues
 * codes on it, so a session ended a moment ago must not count), or undefined: no cookie, a dead
 * or unknown one, or two cookies under our name. Never throws for a bad cookie; the caller
 * treats "undefined" as "not signed in".
 */
/** The signed-in session of a gateway page's request (authorize, end-session), if any. */
export function currentSessionOf(c: Context<AppBindings>): Promise<CurrentSession | undefined> {
  return currentSession({
    request: c.req.raw,
    env: c.env,
    config: c.var.ctx.config,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  })
}

/**
 * The signed-in session if it signed in at most `maxAgeSeconds` ago (and not in the future beyond
 * the clock skew); undefined otherwise. Pages that change how the account is reached (a second
 * factor, its email address) ask this and send an older sign-in to the login page.
 */
export async function recentSessionOf(
  c: Context<AppBindings>,
  maxAgeSeconds: number,
): Promise<CurrentSession | undefined> {
  const session = await currentSessionOf(c)
  if (!session) return undefined
  const now = Math.floor(Date.now() / 1000)
  const skew = c.var.ctx.config.settings.clock_skew_seconds
  const recent = session.authTime <= now + skew && now - session.authTime <= maxAgeSeconds
  return recent ? session : undefined
}

export async function currentSession(
  input: Pick<CredentialInput, 'request' | 'config' | 'env' | 'waitUntil'>,
): Promise<CurrentSession | undefined> {
  const values = readCookieValues(
    input.request.headers.get('cookie'),
    cookieNames(input.config.issuer).session,
  )
  const value = values.length === 1 ? values[0] : undefined
  if (value === undefined) return undefined
  const result = await resolveSession(input.env, input.config.settings, value, {
    strict: true,
    waitUntil: input.waitUntil,
  })
  if ('rejected' in result) return undefined
  const { record, tokenHash } = result
  // D1 always has both; a record without them is not one to issue codes on.
  if (record.authTime === undefined || record.authMethod === undefined) return undefined
  return {
    id: record.id,
    userId: record.userId,
    username: record.username,
    roles: record.roles,
    authTime: record.authTime,
    authMethod: record.authMethod,
    amr: sessionAmr(record),
    value,
    tokenHash,
  }
}
