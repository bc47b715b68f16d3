/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which user and app an
 * `/auth/end-session` request speaks for, and where the browser may go afterwards. Only a
 * registered `post_logout_redirect_uri` of the app the ID token was issued to is ever used, so
 * the endpoint is no open redirector. Ending the browser session itself is the caller's part.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose'
import { withStorage } from '../db/errors'
import type { KeyRing } from '../tokens'
import { findClient } from './client-store'
import { matchRedirectUri } from './redirect-uri'

export type EndSessionValidation =
  | {
      ok: true
      /** The `sub` of a valid `id_token_hint`: end the session only if it is this user's. */
      userId?: string
      clientId?: string
      /** The registered post-logout URI with `state`, to redirect to once the session is ended. */
      redirect?: string
    }
  /** Shown on the gateway's page, never redirected. */
  | { ok: false; description: string }

/**
 * The hint's signature and issuer are checked, its expiry is not: the logout spec asks the OP to
 * accept expired ID tokens as hints, since an app often logs out long after sign-in.
 */
async function readIdTokenHint(
  hint: string,
  ring: KeyRing,
  issuer: string,
): Promise<{ sub: string; aud: string } | undefined> {
  try {
    const header = decodeProtectedHeader(hint)
    const key = typeof header.kid === 'string' ? ring.verifiers.get(header.kid) : undefined
    if (!key || header.alg !== key.alg || header.typ !== 'JWT') return undefined
    await compactVerify(hint, key.key, { algorithms: [key.alg] })
    const claims = decodeJwt(hint)
    if (claims.iss !== issuer || typeof claims.sub !== 'string' || typeof claims.aud !== 'string')
      return undefined
    return { sub: claims.sub, aud: claims.aud }
  } catch {
    return undefined
  }
}

export async function validateEndSessionRequest(
  db: D1Database,
  ring: KeyRing,
  issuer: string,
  params: URLSearchParams,
): Promise<EndSessionValidation> {
  const hintText = params.get('id_token_hint')
  const hint = hintText === null ? undefined : await readIdTokenHint(hintText, ring, issuer)
  if (hintText !== null && !hint)
    return { ok: false, description: 'The id_token_hint is not one of our ID tokens.' }
  const named = params.get('client_id') ?? undefined
  if (named !== undefined && hint && hint.aud !== named)
    return { ok: false, description: 'The id_token_hint was issued to another client.' }
  const clientId = hint?.aud ?? named
  const target = params.get('post_logout_redirect_uri')
  if (target === null) return { ok: true, userId: hint?.sub, clientId }
  if (clientId === undefined)
    return { ok: false, description: 'A post_logout_redirect_uri needs an id_token_hint or client_id.' }
  const client = await withStorage('client lookup', () => findClient(db, clientId))
  if (!client || client.disabled || !matchRedirectUri(target, client.postLogoutRedirectUris))
    return { ok: false, description: 'The post_logout_redirect_uri is not registered for this client.' }
  const url = new URL(target)
  const state = params.get('state')
  if (state !== null) url.searchParams.append('state', state)
  return { ok: true, userId: hint?.sub, clientId, redirect: url.href }
}
