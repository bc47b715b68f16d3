/**
 * The first leg: GET /auth/login/{provider} sends the browser to the provider's authorization
 * endpoint with `state`, PKCE S256 (RFC 7636, RFC 9700 §2.1.1) and, for OpenID Connect, `nonce`.
 */
import * as oauth from 'oauth4webapi'
import type { LoginProviderConfig } from '../config/login-providers'
import { callbackUrl, type ProviderClient } from './metadata'

export interface AuthorizationRequest {
  url: URL
  state: string
  codeVerifier: string
  nonce: string | null
}

export async function authorizationRequest(
  provider: LoginProviderConfig,
  pc: ProviderClient,
  issuer: string,
): Promise<AuthorizationRequest> {
  const state = oauth.generateRandomState()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const nonce = provider.kind === 'oidc' ? oauth.generateRandomNonce() : null
  const url = new URL(pc.as.authorization_endpoint as string)
  const params = url.searchParams
  params.set('client_id', provider.client_id)
  params.set('redirect_uri', callbackUrl(issuer, provider))
  params.set('response_type', 'code')
  params.set('scope', provider.scopes.join(' '))
  params.set('state', state)
  params.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier))
  params.set('code_challenge_method', 'S256')
  if (nonce) params.set('nonce', nonce)
  // GitHub: do not offer to create a GitHub account in the middle of signing in here.
  if (provider.kind === 'github') params.set('allow_signup', 'false')
  return { url, state, codeVerifier, nonce }
}
