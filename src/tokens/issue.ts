import type { AuditSink } from '../audit'
import type { GatewayConfig } from '../config/load'
import { withStorage } from '../db/errors'
import type { RateLimitEnv } from '../rate-limit'
import { issueAccessToken } from './access-token'
import { recordSessionAccessToken } from './refresh-store'
import type { KeyRing } from './signing-keys'

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token?: string
  scope: string
}

export interface TokenSubject {
  id: string
  username: string
  roles: string[]
}

export interface GrantContext {
  db: D1Database
  kv: KVNamespace
  config: GatewayConfig
  ring: KeyRing
  pepper?: string
  ip?: string
  /** The rate-limit bindings and switch (`c.env`), asked before a password grant's D1 work. */
  rateLimits?: RateLimitEnv
  /** The request's audit recorder (token_issued, refresh_reuse_detected, logins). */
  audit?: AuditSink
}

/** Issues an access token (recorded under its session when it has one) and builds the response. */
export async function issueTokenResponse(
  context: GrantContext,
  subject: TokenSubject,
  scopes: readonly string[],
  options: {
    clientId?: string
    sessionId?: string
    refreshToken?: string
    authTime?: number
    /** First-party (docs/authorization-server.md); without it the token is delegated. */
    firstParty: boolean
    /** The token's `aud` when it is for an MCP resource (RFC 8707); default SETTINGS.audience. */
    resource?: string
    /** RFC 8176 `amr` of the sign-in and the achieved `acr` (user tokens). */
    amr?: readonly string[]
    acr?: string
  },
): Promise<TokenResponse> {
  const { config } = context
  const ttl = config.settings.access_token_ttl_seconds
  const scope = scopes.join(' ')
  const issued = await issueAccessToken(
    context.ring,
    {
      sub: subject.id,
      username: subject.username,
      roles: subject.roles,
      scope,
      clientId: options.clientId,
      sessionId: options.sessionId,
      authTime: options.authTime,
      firstParty: options.firstParty,
      amr: options.amr,
      acr: options.acr,
    },
    { issuer: config.issuer, audience: options.resource ?? config.settings.audience, ttlSeconds: ttl },
  )
  if (options.sessionId) {
    const sessionId = options.sessionId
    await withStorage('record access token', () =>
      recordSessionAccessToken(context.db, {
        jti: issued.jti,
        familyId: sessionId,
        userId: subject.id,
        expiresAt: issued.expiresAt,
      }),
    )
  }
  return {
    access_token: issued.token,
    token_type: 'Bearer',
    expires_in: ttl,
    ...(options.refreshToken ? { refresh_token: options.refreshToken } : {}),
    scope,
  }
}
