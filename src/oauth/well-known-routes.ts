import { Hono } from 'hono'
import { SUPPORTED_ACR_VALUES } from '../authz/authentication-strength'
import type { Settings } from '../config/schema'
import type { AppBindings } from '../env'
import { loadKeyRing } from '../tokens'
import { publicMetadataCors } from './cors'
import { supportedScopes } from './requested-scopes'

export const wellKnownRoutes = new Hono<AppBindings>()

// Public metadata, for any page (a browser app's discovery and JWKS fetch), never with credentials.
// Every path under /.well-known is the gateway's (routing/reserved-segments.ts), so a well-known
// added later gets the same answer, and none of the proxy's routes does.
wellKnownRoutes.use('/.well-known/*', publicMetadataCors())

// Public keys only; cacheable for a few minutes so verifiers pick up a rotation quickly.
wellKnownRoutes.get('/.well-known/jwks.json', async (c) => {
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  return c.json(ring.publicJwks, 200, { 'cache-control': 'public, max-age=300' })
})

// The ID token's claims (oauth/id-token.ts) and UserInfo's (oauth/userinfo-routes.ts).
const CLAIMS_SUPPORTED = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'amr',
  'acr',
  'azp',
  'preferred_username',
  'roles',
  'email',
  'email_verified',
]

/**
 * RFC 8414 authorization server metadata, which is also OpenID Connect Discovery 1.0's document;
 * every URL is built from ISSUER, never from the Host header.
 */
function metadata(settings: Settings, issuer: string) {
  const clientAuth = ['client_secret_basic', 'client_secret_post', 'none']
  const alg = settings.signing_alg
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth/authorize`,
    token_endpoint: `${issuer}/auth/token`,
    userinfo_endpoint: `${issuer}/auth/userinfo`,
    end_session_endpoint: `${issuer}/auth/end-session`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/auth/revoke`,
    introspection_endpoint: `${issuer}/auth/introspect`,
    // RFC 8414 §2: present only when clients may register themselves (RFC 7591).
    ...(settings.dynamic_client_registration ? { registration_endpoint: `${issuer}/auth/clients` } : {}),
    grant_types_supported: [
      'authorization_code',
      ...(settings.password_grant ? ['password'] : []),
      'refresh_token',
      'client_credentials',
    ],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // OAuth 2.1 §4.1.1: PKCE for every client, and never `plain`.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: the authorization response carries `iss`, so a client can detect mix-up.
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [alg],
    token_endpoint_auth_methods_supported: clientAuth,
    revocation_endpoint_auth_methods_supported: clientAuth,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    token_endpoint_auth_signing_alg_values_supported: [alg],
    scopes_supported: supportedScopes(settings.role_scopes),
    claims_supported: CLAIMS_SUPPORTED,
    // `mfa`: a second factor or a passkey; `phr`: a passkey (phishing-resistant, OpenID EAP ACR).
    acr_values_supported: [...SUPPORTED_ACR_VALUES],
    // A client_id may be the https URL of the client's metadata document (oauth/client-lookup.ts).
    client_id_metadata_document_supported: true,
  }
}

function serveMetadata(path: string) {
  wellKnownRoutes.get(path, (c) => {
    const { config } = c.var.ctx
    return c.json(metadata(config.settings, config.issuer), 200, { 'cache-control': 'public, max-age=300' })
  })
}

serveMetadata('/.well-known/oauth-authorization-server')
serveMetadata('/.well-known/openid-configuration')
