import { env } from 'cloudflare:test'
import { sha256Hex } from '../../src/crypto/bytes'
import { nowSeconds } from '../../src/db/json'
import { issueAuthorizationCode } from '../../src/oauth/authorization-code'
import { type GrantType, insertClient } from '../../src/oauth/client-store'
import { s256 } from '../../src/oauth/pkce'
import { basicAuth, tokenRequest } from './accounts'

export const REDIRECT = 'https://app.example/callback'
export const CLIENT_SECRET = 'gws_test-secret-of-the-confidential-code-client'

export interface CodeClientOptions {
  secret?: string
  scopes?: string[]
  grantTypes?: GrantType[]
  redirectUris?: string[]
  /** Roles a delegated token of the client may act with (default none). */
  allowedRoles?: string[]
  firstParty?: boolean
}

/** A client registered for the code flow, straight in D1 (what create-client --redirect-uri does). */
export async function createCodeClient(clientId: string, options: CodeClientOptions = {}): Promise<void> {
  await insertClient(env.DB, {
    clientId,
    secretHash: options.secret ? await sha256Hex(options.secret) : undefined,
    name: `App ${clientId}`,
    grantTypes: options.grantTypes ?? ['authorization_code', 'refresh_token'],
    scopes: options.scopes ?? ['openid', 'profile', 'read', 'write'],
    roles: [],
    redirectUris: options.redirectUris ?? [REDIRECT],
    allowedRoles: options.allowedRoles ?? [],
    firstParty: options.firstParty ?? false,
  })
}

/** A fresh RFC 7636 verifier (64 unreserved characters) and its S256 challenge. */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(48))
  const verifier = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
  return { verifier, challenge: await s256(verifier) }
}

/** A browser's authorization request for `clientId` (REDIRECT, S256 PKCE, `openid read`) and its verifier. */
export async function authorizationRequest(
  clientId: string,
  extra: Record<string, string> = {},
): Promise<{ query: URLSearchParams; verifier: string }> {
  const { verifier, challenge } = await pkcePair()
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: 'st-support',
    ...extra,
  })
  return { query, verifier }
}

export interface IssuedCode {
  code: string
  verifier: string
  authTime: number
}

/**
 * A code as /auth/authorize will issue it after login and consent: the real
 * issueAuthorizationCode against the real D1.
 */
export async function issueCode(
  clientId: string,
  userId: string,
  options: {
    scopes?: string[]
    nonce?: string
    redirectUri?: string
    authTime?: number
    resource?: string
    amr?: string[]
    acr?: string
  } = {},
): Promise<IssuedCode> {
  const { verifier, challenge } = await pkcePair()
  const authTime = options.authTime ?? nowSeconds() - 5
  const { code } = await issueAuthorizationCode(env.DB, {
    clientId,
    userId,
    redirectUri: options.redirectUri ?? REDIRECT,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    scopes: options.scopes ?? ['openid', 'read'],
    nonce: options.nonce,
    authTime,
    amr: options.amr ?? ['pwd'],
    acr: options.acr,
    resource: options.resource,
  })
  return { code, verifier, authTime }
}

/** The token request of a public client (names itself) or a confidential one (Basic). */
export function exchangeCode(
  clientId: string,
  issued: { code: string; verifier: string },
  options: { secret?: string; redirectUri?: string; extra?: Record<string, string> } = {},
): Promise<Response> {
  const params: Record<string, string> = {
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: options.redirectUri ?? REDIRECT,
    code_verifier: issued.verifier,
    ...(options.secret === undefined ? { client_id: clientId } : {}),
    ...options.extra,
  }
  const headers = options.secret === undefined ? {} : basicAuth(clientId, options.secret)
  return tokenRequest(params, headers)
}

export interface CodeTokens {
  access_token: string
  refresh_token?: string
  id_token?: string
  scope: string
  expires_in: number
  token_type: string
}
