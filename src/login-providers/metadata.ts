/**
 * The provider as oauth4webapi sees it: authorization server metadata (OpenID Connect discovery for
 * `oidc`, the configured endpoints for `github`), the client, and its client authentication.
 * Discovery documents are kept per isolate for an hour; a failed fetch is not kept, so a provider
 * that was down is asked again on the next sign-in.
 */
import * as oauth from 'oauth4webapi'
import type { LoginProviderConfig } from '../config/login-providers'
import { ProviderLoginFailure } from './failure'

/** How long one provider request (discovery, token, JWKS, API) may take before the sign-in fails. */
export const PROVIDER_TIMEOUT_MS = 10_000
const DISCOVERY_CACHE_MS = 3_600_000

export interface ProviderClient {
  as: oauth.AuthorizationServer
  client: oauth.Client
  auth: oauth.ClientAuth
  /** Options for every oauth4webapi request to this provider. */
  http: ProviderHttpOptions
}

export interface ProviderHttpOptions {
  signal: () => AbortSignal
  [oauth.allowInsecureRequests]?: boolean
}

/** http is allowed only to loopback (the schema enforces it), for the local stand-in providers. */
function httpOptions(urls: readonly string[]): ProviderHttpOptions {
  const insecure = urls.some((url) => url.startsWith('http:'))
  return {
    signal: () => AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  }
}

const discovered = new Map<string, { as: oauth.AuthorizationServer; until: number }>()

async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const hit = discovered.get(issuer)
  if (hit && hit.until > Date.now()) return hit.as
  const url = new URL(issuer)
  let as: oauth.AuthorizationServer
  try {
    const response = await oauth.discoveryRequest(url, { algorithm: 'oidc', ...httpOptions([issuer]) })
    as = await oauth.processDiscoveryResponse(url, response)
  } catch (error) {
    throw new ProviderLoginFailure('provider_unavailable', 'OpenID Connect discovery failed', error)
  }
  // The ID token's signature is checked against these keys; a provider without them is unusable.
  if (!as.jwks_uri || !as.token_endpoint || !as.authorization_endpoint)
    throw new ProviderLoginFailure('provider_unavailable', 'discovery lacks jwks_uri or an endpoint')
  if (discovered.size > 100) discovered.clear()
  discovered.set(issuer, { as, until: Date.now() + DISCOVERY_CACHE_MS })
  return as
}

function clientAuth(as: oauth.AuthorizationServer, secret: string): oauth.ClientAuth {
  const methods = as.token_endpoint_auth_methods_supported
  // client_secret_basic is the OAuth default (RFC 8414 §2); GitHub takes the secret in the body.
  if (methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post'))
    return oauth.ClientSecretPost(secret)
  return oauth.ClientSecretBasic(secret)
}

export async function providerClient(provider: LoginProviderConfig, secret: string): Promise<ProviderClient> {
  const client: oauth.Client = { client_id: provider.client_id }
  if (provider.kind === 'oidc') {
    const as = await discover(provider.issuer)
    const urls = [
      provider.issuer,
      as.authorization_endpoint ?? '',
      as.token_endpoint ?? '',
      as.jwks_uri ?? '',
    ]
    return { as, client, auth: clientAuth(as, secret), http: httpOptions(urls) }
  }
  const as: oauth.AuthorizationServer = {
    // GitHub has no issuer identifier and sends no `iss` (RFC 9207) in its responses.
    issuer: new URL(provider.authorization_url).origin,
    authorization_endpoint: provider.authorization_url,
    token_endpoint: provider.token_url,
  }
  const urls = [provider.authorization_url, provider.token_url, provider.api_url]
  return { as, client, auth: oauth.ClientSecretPost(secret), http: httpOptions(urls) }
}

/**
 * Where a sign-in at `provider` starts, without a network request: GitHub's configured endpoint,
 * or an OpenID Connect provider's discovered one when this isolate has it, else its issuer (the
 * same origin at the providers we know). For the CSP `form-action` of a page whose form answers
 * with a redirect there (the account page's link forms): browsers apply it to that redirect too.
 */
export function authorizationEndpointHint(provider: LoginProviderConfig): string {
  if (provider.kind === 'github') return provider.authorization_url
  return discovered.get(provider.issuer)?.as.authorization_endpoint ?? provider.issuer
}

/** The client secret from the secret the config names; a missing one disables only this provider. */
export function clientSecret(env: Record<string, unknown>, provider: LoginProviderConfig): string {
  const value = env[provider.client_secret_secret]
  if (typeof value !== 'string' || value.length === 0)
    throw new ProviderLoginFailure('not_configured', `secret ${provider.client_secret_secret} is not set`)
  return value
}

/** ISSUER/auth/callback/{name}: the redirect URI registered at the provider. */
export function callbackUrl(issuer: string, provider: LoginProviderConfig): string {
  return `${issuer}/auth/callback/${provider.name}`
}
