/**
 * How the caller proved who they are; sent upstream as `X-Auth-Method`.
 *
 * @example
 * ```ts
 * if (currentPrincipal(c).method === 'api_key') throw new GatewayError('forbidden', 'Sign in to do this.')
 * ```
 */
export type AuthMethod = 'jwt' | 'external_jwt' | 'api_key' | 'basic' | 'session' | 'none'

/**
 * Who is calling, as every later stage sees it. Loaders build it; nothing else parses credentials.
 *
 * @example
 * ```ts
 * const principal: Principal = currentPrincipal(c)
 * const actingApp = principal.firstParty ? undefined : principal.clientId // an app acting for the user
 * ```
 */
export interface Principal {
  method: Exclude<AuthMethod, 'none'>
  /**
   * User id, or client id for client_credentials tokens, or `<issuer name>|<sub>` for an external
   * subject (see externalPrincipalId).
   */
  id: string
  username: string
  roles: string[]
  scopes: string[]
  clientId?: string
  /**
   * The credential is the user's (or the operator's) own: a browser session, a password-grant
   * token, a token of a client the operator marked `first_party`. Absent means delegated for our
   * tokens: issued to an app acting for the user (docs/authorization-server.md). Only first-party
   * credentials may manage the account or the gateway (requireFirstParty).
   */
  firstParty?: true
  /** `jti` of the access token, when there is one (revocation, logout). */
  tokenId?: string
  /** SHA-256 of `tokenId`, memoized on the (cached) principal for the denylist lookup. */
  tokenIdHash?: string
  /** Seconds since epoch when the credential stops being valid, when known. */
  expiresAt?: number
  /** The refresh-token family (our login session) an access token belongs to. */
  sessionId?: string
  /** The browser session (method `session`): its public id and the SHA-256 of its cookie value. */
  browserSession?: { id: string; tokenHash: string }
  /** The external issuer's configured name, for external_jwt. */
  issuerName?: string
  /**
   * Seconds since epoch when the user last authenticated with a password or a provider (our
   * access tokens' `auth_time`, unchanged through refreshes). Absent for client tokens and keys.
   */
  authTime?: number
  /**
   * How the user signed in (RFC 8176 `amr`, src/authz/authentication-strength.ts): ["pwd"] for a
   * password, ["fed"] for an external login provider (then named by `loginProvider`), plus `otp`,
   * `hwk`/`swk`, `user`, `mfa` for second factors and passkeys. Sessions and our user tokens
   * carry it; API keys, Basic and client tokens have none (no sign-in happened).
   */
  amr?: string[]
  /** The `acr` an authorization request asked for and the sign-in achieved (our tokens). */
  acr?: string
  loginProvider?: string
}

/**
 * A delegated token: one of ours issued to a client (an app acting for the user, or a service
 * client acting as itself) that does not say it is first-party. Route policy `delegated = "deny"`
 * refuses these, and the assertion names their client as `azp`.
 */
export function isDelegated(principal: Principal): principal is Principal & { clientId: string } {
  return principal.method === 'jwt' && principal.firstParty !== true && principal.clientId !== undefined
}

/**
 * The id of an external identity: the issuer's configured name, `|`, its `sub`. Without the
 * namespace two IdPs, or an IdP and our own users, could name the same principal (and share its
 * revocations, or pass the mixed-credential check together). Our ids never contain `|` (user ids
 * are UUIDs, client ids exclude it) and issuer names cannot, so the first `|` splits it unambiguously.
 */
export function externalPrincipalId(issuerName: string, subject: string): string {
  return `${issuerName}|${subject}`
}
