/**
 * The second leg: the provider's redirect back. oauth4webapi checks the authorization response
 * (`state`, RFC 9207 `iss` when the provider sends it or announces it, `error`), exchanges the
 * code with the PKCE verifier, and checks the ID token's claims (`iss`, `aud`, `azp`, `exp`, `iat`,
 * `nonce`). It leaves the ID token's signature to the caller (TLS to the token endpoint is allowed
 * to stand in for it); we check it anyway against the provider's JWKS, so a token endpoint
 * answer that was tampered with, or a token signed by another key, is refused.
 */
import * as oauth from 'oauth4webapi'
import type { LoginProviderConfig, OidcProviderConfig } from '../config/login-providers'
import { ProviderLoginFailure } from './failure'
import type { LoginFlowRow } from './flow-store'
import { githubProfile } from './github'
import { callbackUrl, type ProviderClient } from './metadata'
import type { ExternalProfile } from './profile'

// Per isolate, per provider: oauth4webapi's JWKS cache (it refetches on an unknown `kid`).
const jwksCaches = new Map<string, oauth.JWKSCacheInput>()

function jwksCacheFor(provider: LoginProviderConfig): oauth.JWKSCacheInput {
  const key = `${provider.name}\n${provider.kind === 'oidc' ? provider.issuer : ''}`
  let cache = jwksCaches.get(key)
  if (!cache) {
    cache = {}
    jwksCaches.set(key, cache)
  }
  return cache
}

/** The authorization response, checked; provider `error`s become failures with our own message. */
function checkAuthorizationResponse(
  pc: ProviderClient,
  query: URLSearchParams,
  state: string,
): URLSearchParams {
  try {
    return oauth.validateAuthResponse(pc.as, pc.client, query, state)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = error.error
      throw new ProviderLoginFailure(
        code === 'access_denied' ? 'cancelled' : 'provider_error',
        `provider answered error=${code.slice(0, 64)}`,
      )
    }
    // A wrong `iss` (mix-up, RFC 9207), a missing required `iss`, or a malformed response.
    throw new ProviderLoginFailure('invalid_response', 'authorization response refused', error)
  }
}

function isTransport(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
  )
}

async function exchangeCode(
  provider: LoginProviderConfig,
  pc: ProviderClient,
  issuer: string,
  params: URLSearchParams,
  flow: LoginFlowRow,
): Promise<{ tokens: oauth.TokenEndpointResponse; response: Response }> {
  let response: Response
  try {
    response = await oauth.authorizationCodeGrantRequest(
      pc.as,
      pc.client,
      pc.auth,
      params,
      callbackUrl(issuer, provider),
      flow.code_verifier,
      pc.http,
    )
  } catch (error) {
    throw new ProviderLoginFailure('provider_unavailable', 'token endpoint unreachable', error)
  }
  // GitHub answers a refused code exchange with 200 and an `error` body; kept to tell it apart.
  const copy = response.clone()
  try {
    const tokens = await oauth.processAuthorizationCodeResponse(pc.as, pc.client, response, {
      expectedNonce: flow.nonce ?? oauth.expectNoNonce,
      requireIdToken: provider.kind === 'oidc',
    })
    // oauth4webapi remembers the ID token by this Response object, for the signature check.
    return { tokens, response }
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError)
      throw new ProviderLoginFailure('provider_error', `token endpoint error=${error.error.slice(0, 64)}`)
    const body = (await copy.json().catch(() => undefined)) as { error?: unknown } | undefined
    if (typeof body?.error === 'string')
      throw new ProviderLoginFailure('provider_error', `token endpoint error=${body.error.slice(0, 64)}`)
    if (response.status >= 500)
      throw new ProviderLoginFailure('provider_unavailable', `token endpoint answered ${response.status}`)
    // ID token claims (iss, aud, exp, nonce ...) or a malformed token response.
    throw new ProviderLoginFailure('invalid_response', 'token response refused', error)
  }
}

async function verifyIdTokenSignature(provider: OidcProviderConfig, pc: ProviderClient, ref: Response) {
  try {
    await oauth.validateApplicationLevelSignature(pc.as, ref, {
      ...pc.http,
      [oauth.jwksCache]: jwksCacheFor(provider),
    } as oauth.ValidateSignatureOptions)
  } catch (error) {
    if (
      isTransport(error) ||
      (error instanceof oauth.OperationProcessingError && error.code === oauth.RESPONSE_IS_NOT_CONFORM)
    )
      throw new ProviderLoginFailure('provider_unavailable', 'JWKS unreachable', error)
    throw new ProviderLoginFailure('invalid_response', 'ID token signature refused', error)
  }
}

function oidcProfile(provider: OidcProviderConfig, claims: oauth.IDToken): ExternalProfile {
  const email = typeof claims.email === 'string' ? claims.email : null
  const preferred = typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined
  const raw = claims[provider.roles_claim]
  const groups = Array.isArray(raw) ? raw.filter((value): value is string => typeof value === 'string') : []
  if (typeof raw === 'string') groups.push(...raw.split(' ').filter(Boolean))
  return {
    subject: claims.sub,
    email,
    emailVerified: email !== null && claims.email_verified === true,
    usernameHint: preferred ?? email?.split('@')[0] ?? claims.sub,
    display: email ?? preferred ?? claims.sub,
    groups,
  }
}

/** Completes the flow at the provider and says who signed in. Nothing is stored here. */
export async function completeAtProvider(
  provider: LoginProviderConfig,
  pc: ProviderClient,
  issuer: string,
  query: URLSearchParams,
  flow: LoginFlowRow,
  state: string,
): Promise<ExternalProfile> {
  const params = checkAuthorizationResponse(pc, query, state)
  const { tokens, response } = await exchangeCode(provider, pc, issuer, params, flow)
  if (provider.kind === 'github') return githubProfile(provider, tokens.access_token)
  await verifyIdTokenSignature(provider, pc, response)
  const claims = oauth.getValidatedIdTokenClaims(tokens)
  if (!claims) throw new ProviderLoginFailure('invalid_response', 'no ID token')
  return oidcProfile(provider, claims)
}
