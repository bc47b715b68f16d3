import { ASSERTION_PATH, IDENTITY_MODE_SUPPORTED, MCP_PATH } from './scenarios'
import { JWKS_PATH } from './upstream'

/** What the benchmark adds to wrangler.toml's own configuration. */
export const BENCH_ROUTES = [
  {
    path: '/bench/external',
    upstream: 'UPSTREAM_URL',
    credentials: ['external_jwt'],
    issuers: ['bench-idp'],
  },
  { path: '/bench/strict', upstream: 'UPSTREAM_URL', credentials: ['jwt'], revocation: 'strict' },
  // Like wrangler.toml's /mcp route, but in front of the bench's upstream; the rule for `echo`,
  // the tool the scenario calls, makes every call pay a per-tool decision too.
  // /api's route (authenticated, jwt or api_key) with the identity in the assertion alone.
  ...(IDENTITY_MODE_SUPPORTED
    ? [{ path: ASSERTION_PATH, upstream: 'UPSTREAM_URL', identity: 'assertion' }]
    : []),
  {
    path: MCP_PATH,
    upstream: 'UPSTREAM_URL',
    mcp: true,
    credentials: ['jwt'],
    scopes: ['read'],
    mcp_rules: [
      { method: 'tools/call', name: 'echo', scopes: ['read'] },
      { method: 'tools/call', name: 'delete_order', scopes: ['write'] },
    ],
  },
]

export const ROUTE_TABLE_SIZE = 1000

/** wrangler.toml's routes plus the benchmark's, padded with `/svc-N/v1` routes to `size`. */
export function routeTable(shipped: unknown[], size?: number): unknown[] {
  const routes = [...shipped, ...BENCH_ROUTES]
  if (size === undefined) return routes
  for (let i = 0; routes.length < size; i++) {
    const access = i % 3 === 0 ? { access: 'public' } : i % 3 === 1 ? { roles: ['editor'] } : {}
    routes.push({ path: `/svc-${i}/v1`, upstream: 'UPSTREAM_URL', ...access })
  }
  return routes
}

export interface ExternalIssuerSetup {
  issuer: string
  audience: string
  upstreamOrigin: string
}

/** wrangler.toml's settings with registration on (the harness registers its user) and the fake IdP. */
export function benchSettings(shipped: unknown, idp: ExternalIssuerSetup): Record<string, unknown> {
  const settings =
    typeof shipped === 'object' && shipped !== null ? { ...(shipped as Record<string, unknown>) } : {}
  // The default, as a deployment has it: the upstream's response goes back without a copy.
  delete settings.response_request_id
  return {
    ...settings,
    registration: true,
    password_grant: true,
    external_issuers: [
      ...(Array.isArray(settings.external_issuers) ? settings.external_issuers : []),
      {
        name: 'bench-idp',
        issuer: idp.issuer,
        jwks_url: idp.upstreamOrigin + JWKS_PATH,
        audiences: [idp.audience],
        algorithms: ['RS256'],
      },
    ],
  }
}
