/**
 * Ceremony challenges: 32 random bytes per options request, stored only as a SHA-256 in D1, single
 * use (DELETE … RETURNING), at most 5 minutes old, and bound to the browser that asked for them:
 * the options answer sets a random binding cookie (HttpOnly, SameSite=Strict) and the row keeps
 * its hash, so a challenge (and an assertion over it) carried to another browser is refused. A
 * browser keeps its binding cookie across ceremonies, so the autofill request and the button of
 * one login page do not spend each other's binding.
 */
import type { Context } from 'hono'
import { randomBytes, randomToken, sha256Hex, toBase64Url } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { gatewayCookieName, setGatewayCookie } from '../http/gateway-cookie'
import { readCookieValues } from '../sessions'
import { refuse } from './refusal'
import { type CeremonyPurpose, insertChallenge, takeChallenge } from './store'

/** Issue 22: challenges live at most 5 minutes; also the `timeout` the options give the browser. */
export const CHALLENGE_TTL_SECONDS = 300
const BINDING = /^[A-Za-z0-9_-]{43}$/

// The challenge binding's cookie (src/http/gateway-cookie.ts): `__Host-gw_webauthn` on https.
const BINDING_COOKIE = 'gw_webauthn'

/** The binding cookie's value when the request carries exactly one well-formed one. */
export function presentedBinding(request: Request, issuer: string): string | undefined {
  const values = readCookieValues(request.headers.get('cookie'), gatewayCookieName(issuer, BINDING_COOKIE))
  return values.length === 1 && BINDING.test(values[0] ?? '') ? values[0] : undefined
}

/** This browser's binding value: the one it presents, or a new one set on the response now. */
export function ensureBinding(c: Context, issuer: string): string {
  const existing = presentedBinding(c.req.raw, issuer)
  if (existing) return existing
  const value = randomToken()
  setGatewayCookie(c, issuer, BINDING_COOKIE, value, { sameSite: 'Strict', maxAge: CHALLENGE_TTL_SECONDS })
  return value
}

export interface IssueChallengeInput {
  purpose: CeremonyPurpose
  userId: string | null
  binding: string
}

/** A new challenge (base64url, as the options JSON carries it), stored hashed. */
export async function issueChallenge(db: D1Database, input: IssueChallengeInput): Promise<string> {
  const challenge = toBase64Url(randomBytes(32))
  const now = nowSeconds()
  await withStorage('store challenge', async () =>
    insertChallenge(db, {
      challenge_hash: await sha256Hex(challenge),
      purpose: input.purpose,
      user_id: input.userId,
      browser_hash: await sha256Hex(input.binding),
      created_at: now,
      expires_at: now + CHALLENGE_TTL_SECONDS,
    }),
  )
  return challenge
}

export interface ConsumeChallengeInput {
  /** The challenge the client data signed over. */
  challenge: Uint8Array
  purpose: CeremonyPurpose
  /** The browser's binding cookie value; undefined when it sent none. */
  binding: string | undefined
  /** Registration: the signed-in user the challenge must have been issued to. */
  userId?: string
}

/** Spends the challenge; refuses one unknown or spent, expired, of another purpose, browser or user. */
export async function consumeChallenge(db: D1Database, input: ConsumeChallengeInput): Promise<void> {
  const hash = await sha256Hex(toBase64Url(input.challenge))
  const row = await withStorage('take challenge', () => takeChallenge(db, hash))
  if (!row) refuse('unknown_challenge')
  if (row.expires_at <= nowSeconds()) refuse('expired_challenge')
  if (row.purpose !== input.purpose) refuse('wrong_purpose')
  if (input.binding === undefined || row.browser_hash !== (await sha256Hex(input.binding)))
    refuse('other_browser')
  if ((input.userId ?? null) !== row.user_id) refuse('other_user')
}
