import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { loadKeyRing } from '../tokens/signing-keys'

export const wellKnownRoutes = new Hono<AppBindings>()

// Public keys only; cacheable for a few minutes so verifiers pick up a rotation quickly.
wellKnownRoutes.get('/.well-known/jwks.json', async (c) => {
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  return c.json(ring.publicJwks, 200, { 'cache-control': 'public, max-age=300' })
})

/** RFC 8414 authorization server metadata; every URL is built from ISSUER, never from the Host header. */
function metadata(issuer: string, alg: string, passwordGrant: boolean) {
  return {
    issuer,
    token_endpoint: `${issuer}/auth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/auth/revoke`,
    introspection_endpoint: `${issuer}/auth/introspect`,
    grant_types_supported: [...(passwordGrant ? ['password'] : []), 'refresh_token', 'client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    token_endpoint_auth_signing_alg_values_supported: [alg],
    scopes_supported: [] as string[],
  }
}

function serveMetadata(path: string) {
  wellKnownRoutes.get(path, (c) => {
    const { config } = c.var.ctx
    const body = metadata(config.issuer, config.settings.signing_alg, config.settings.password_grant)
    body.scopes_supported = [...new Set(Object.values(config.settings.role_scopes).flat())].sort()
    return c.json(body, 200, { 'cache-control': 'public, max-age=300' })
  })
}

serveMetadata('/.well-known/oauth-authorization-server')
serveMetadata('/.well-known/openid-configuration')
