/**
 * Authorization codes (RFC 6749 §4.1.2, OAuth 2.1 §4.1.2): 256 random bits, stored only as
 * SHA-256, bound to everything the authorization request decided, valid for at most a minute,
 * redeemable once. `/auth/authorize` calls `issueAuthorizationCode` after login and consent.
 */
import { randomToken, sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { markClientUsedStatement } from './client-store'
import { insertAuthorizationCodeStatement } from './code-store'
import { isS256Challenge, PKCE_METHOD } from './pkce'

export const AUTHORIZATION_CODE_PREFIX = 'ac_'
// RFC 6749 §4.1.2 recommends at most ten minutes; a browser redirect needs seconds.
export const AUTHORIZATION_CODE_TTL_SECONDS = 60
const CODE_SHAPE = /^ac_[A-Za-z0-9_-]{43}$/
// OIDC Core §3.1.2.1 sets no limit; this one keeps a hostile nonce from bloating rows and tokens.
const NONCE = /^[\x20-\x7e]{1,512}$/

export interface AuthorizationCodeInput {
  clientId: string
  userId: string
  /** The redirect URI of the authorization request, as presented (already matched). */
  redirectUri: string
  codeChallenge: string
  codeChallengeMethod: string
  /** Already decided: `authorizationScopes` (oauth/requested-scopes.ts) and consent. */
  scopes: readonly string[]
  nonce?: string
  /** When the user last authenticated (unix seconds), from the browser session. */
  authTime: number
  /** Authentication methods (RFC 8176), e.g. ["pwd"]. */
  amr?: readonly string[]
  /** The `acr` the request asked for and the sign-in achieved. */
  acr?: string
  browserSessionId?: string
  /** The RFC 8707 resource the tokens will be for (an MCP route's); absent: the gateway's audience. */
  resource?: string
}

export interface IssuedAuthorizationCode {
  code: string
  expiresAt: number
}

export function isAuthorizationCodeShape(code: string): boolean {
  return CODE_SHAPE.test(code)
}

/** Refuses what the authorize endpoint must already have refused (defense in depth: fail closed). */
function assertIssuable(input: AuthorizationCodeInput): void {
  if (input.codeChallengeMethod !== PKCE_METHOD || !isS256Challenge(input.codeChallenge)) {
    throw new GatewayError('invalid_request', 'PKCE with code_challenge_method=S256 is required.')
  }
  if (input.nonce !== undefined && !NONCE.test(input.nonce)) {
    throw new GatewayError('invalid_request', 'The nonce must be 1-512 printable ASCII characters.')
  }
  if (!Number.isSafeInteger(input.authTime) || input.authTime > nowSeconds() + 60) {
    throw new GatewayError('internal_error', 'auth_time must be a time in the past (unix seconds).')
  }
}

export async function issueAuthorizationCode(
  db: D1Database,
  input: AuthorizationCodeInput,
): Promise<IssuedAuthorizationCode> {
  assertIssuable(input)
  const code = randomToken(AUTHORIZATION_CODE_PREFIX, 32)
  const now = nowSeconds()
  const expiresAt = now + AUTHORIZATION_CODE_TTL_SECONDS
  const stored = insertAuthorizationCodeStatement(db, {
    code_hash: await sha256Hex(code),
    client_id: input.clientId,
    user_id: input.userId,
    redirect_uri: input.redirectUri,
    code_challenge: input.codeChallenge,
    scope: input.scopes.join(' '),
    nonce: input.nonce ?? null,
    auth_time: input.authTime,
    amr: JSON.stringify(input.amr ?? []),
    browser_session_id: input.browserSessionId ?? null,
    issued_at: now,
    expires_at: expiresAt,
    resource: input.resource ?? null,
    acr: input.acr ?? null,
  })
  // One batch (one round trip, one transaction): the client's last use lands with its code, which
  // keeps a self-registered client from being deleted as unused (src/cleanup.ts).
  await withStorage('store authorization code', () =>
    db.batch([stored, markClientUsedStatement(db, input.clientId, now)]),
  )
  return { code, expiresAt }
}
