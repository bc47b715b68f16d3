/**
 * The state of a sign-in in progress. The row (login_flows, keyed by SHA-256 of `state`) holds
 * the PKCE verifier, the nonce and where to return; it is deleted by the first callback that names
 * it from the browser that started it, at its provider's callback (single use), and is refused
 * after FLOW_TTL_SECONDS. Each flow has its own row, so two tabs signing in at once do not
 * overwrite each other.
 *
 * Login CSRF and state fixation: the row is bound to the browser that started the flow by the
 * hash of a random flow cookie. A callback URL carried to another browser (an attacker sending a
 * victim the callback of the attacker's own sign-in, to sign the victim into the attacker's
 * account) finds a browser without that cookie value and is refused.
 */
import type { Context } from 'hono'
import { getCookie } from 'hono/cookie'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { gatewayCookieName, setGatewayCookie } from '../http/gateway-cookie'
import { ProviderLoginFailure } from './failure'
import { insertLoginFlow, type LoginFlowRow, loginFlowProvider, takeLoginFlow } from './flow-store'

/** A sign-in must come back from the provider within 10 minutes. */
export const FLOW_TTL_SECONDS = 600
const FLOW_COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/

const FLOW_COOKIE = 'gw_flow'

/** `__Host-gw_flow` on https (no sibling host can plant it), `gw_flow` on plain http. */
export function flowCookieName(issuer: string): string {
  return gatewayCookieName(issuer, FLOW_COOKIE)
}

/**
 * The browser's flow cookie, made when it has none. Parallel flows share it (each has its own row);
 * every new flow extends it to FLOW_TTL_SECONDS. SameSite=Lax: the provider's redirect back is a
 * top-level GET navigation, which carries Lax cookies.
 */
export function ensureFlowCookie(c: Context, issuer: string): string {
  const name = flowCookieName(issuer)
  const existing = getCookie(c, name)
  const value = existing && FLOW_COOKIE_VALUE.test(existing) ? existing : randomToken()
  setGatewayCookie(c, issuer, FLOW_COOKIE, value, { sameSite: 'Lax', maxAge: FLOW_TTL_SECONDS })
  return value
}

export interface NewFlow {
  state: string
  provider: string
  browserValue: string
  codeVerifier: string
  nonce: string | null
  returnTo: string
  linkUserId: string | null
}

export async function saveFlow(db: D1Database, flow: NewFlow): Promise<void> {
  const now = nowSeconds()
  const row: LoginFlowRow = {
    state_hash: await sha256Hex(flow.state),
    provider: flow.provider,
    browser_hash: await sha256Hex(flow.browserValue),
    code_verifier: flow.codeVerifier,
    nonce: flow.nonce,
    return_to: flow.returnTo,
    link_user_id: flow.linkUserId,
    created_at: now,
    expires_at: now + FLOW_TTL_SECONDS,
  }
  await withStorage('save login flow', () => insertLoginFlow(db, row))
}

/** Why no flow was taken, for the log (the user sees one message for all of them). */
async function noFlow(db: D1Database, stateHash: string, provider: string): Promise<ProviderLoginFailure> {
  const startedFor = await withStorage('find login flow', () => loginFlowProvider(db, stateHash))
  if (startedFor === undefined)
    return new ProviderLoginFailure('flow_invalid', 'no flow has this state (replayed or forged)')
  if (startedFor !== provider)
    return new ProviderLoginFailure('flow_invalid', `flow was started for provider ${startedFor}`)
  return new ProviderLoginFailure(
    'flow_invalid',
    'callback from another browser than the one that started it',
  )
}

/**
 * The flow a callback names, taken (deleted) so it cannot be used twice. Fails closed when the
 * `state` or the flow cookie is missing, when no flow has that state, when it was started for
 * another provider (mix-up: a response for one provider delivered to another's callback), when
 * this browser is not the one that started it, or when it expired. Only a callback from the
 * browser that started the flow, to its provider's callback, takes it: anyone else who learns the
 * `state` (a leaked callback URL, the provider's logs) is refused and leaves the flow in place.
 */
export async function takeFlow(
  c: Context,
  db: D1Database,
  issuer: string,
  provider: string,
  state: string | undefined,
): Promise<LoginFlowRow> {
  if (!state || state.length > 512) throw new ProviderLoginFailure('flow_invalid', 'callback without state')
  const cookie = getCookie(c, flowCookieName(issuer))
  if (!cookie || !FLOW_COOKIE_VALUE.test(cookie))
    throw new ProviderLoginFailure('flow_invalid', 'callback without the flow cookie')
  const key = { stateHash: await sha256Hex(state), provider, browserHash: await sha256Hex(cookie) }
  const row = await withStorage('take login flow', () => takeLoginFlow(db, key))
  if (!row) throw await noFlow(db, key.stateHash, provider)
  if (row.expires_at <= nowSeconds()) throw new ProviderLoginFailure('flow_invalid', 'flow expired')
  return row
}
