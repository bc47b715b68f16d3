import * as z from 'zod'
import { METHOD_TOKEN } from '../routing/methods'
import { HEADER_NAME, normalizeHeaderName } from './header-names'

export const CREDENTIAL_KINDS = ['jwt', 'external_jwt', 'api_key', 'basic', 'session'] as const
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number]

const NAME = /^[a-z][a-z0-9_:.-]{0,63}$/
const VAR_NAME = /^[A-Z][A-Z0-9_]{0,63}$/

const roleName = z.string().regex(NAME, 'must be lowercase letters, digits, "_", ":", ".", "-" (max 64)')
const scopeName = z.string().regex(NAME, 'must be lowercase letters, digits, "_", ":", ".", "-" (max 64)')
const METHOD_MESSAGE = 'must be an uppercase HTTP method token (RFC 9110 §9.1), e.g. "GET" or "PROPFIND"'
const method = z.string().regex(METHOD_TOKEN, METHOD_MESSAGE)
// RFC 6749 §3.3 scope-token: an IdP's scopes (`read:messages`, `User.Read`) need not fit our own names.
const externalScope = z
  .string()
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/, 'must be an OAuth scope token (RFC 6749 §3.3)')

export function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '')
  } catch {
    return false
  }
}

const upstream = z.string().refine((value) => VAR_NAME.test(value) || isOrigin(value), {
  message: 'must be an origin like "https://api.internal" (no path) or the name of a var that holds one',
})

/** One alternative of `any_of` (authz/policy.ts): all of its fields must hold. */
const alternative = z
  .object({
    credentials: z.array(z.enum(CREDENTIAL_KINDS)).nonempty().optional(),
    roles: z.array(roleName).optional(),
    scopes: z.array(scopeName).optional(),
  })
  .strict()
const anyOf = z.array(alternative).nonempty().max(32)

/** `deny`: nobody (what the OpenAPI importer writes for an operation that declares no security). */
const ACCESS = ['public', 'authenticated', 'deny'] as const

const rule = z
  .object({
    access: z.enum(ACCESS).optional(),
    roles: z.array(roleName).optional(),
    scopes: z.array(scopeName).optional(),
    any_of: anyOf.optional(),
  })
  .strict()

export const routeSchema = z
  .object({
    path: z.string().startsWith('/', 'must start with "/"').max(1024),
    /**
     * `prefix` covers the path and everything below; `exact` only the path itself. Default: prefix
     * for a plain path, exact for a templated one (unless it ends in `{rest*}`). See routing/route-pattern.ts.
     */
    match: z.enum(['prefix', 'exact']).optional(),
    methods: z.array(method).nonempty().optional(),
    /** Without a port: the host on any port. With one: only requests that name that port. */
    host: z
      .string()
      .regex(
        /^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/,
        'must be a lowercase host name (no trailing dot), optionally with a port',
      )
      .refine((host) => Number(host.split(':')[1] ?? 1) <= 65_535, { message: 'has a port above 65535' })
      // The runtime drops a scheme's default port from the request URL, so "host:443" would never
      // see an https request; the bare host already covers every port.
      .refine((host) => !/:(80|443)$/.test(host), {
        message: 'must not name port 80 or 443 (a host without a port covers every port)',
      })
      .optional(),
    upstream,
    access: z.enum(ACCESS).default('authenticated'),
    roles: z.array(roleName).default([]),
    scopes: z.array(scopeName).default([]),
    /** At least one of these must hold too (OpenAPI: alternative security requirements). */
    any_of: anyOf.optional(),
    /** Per-method overrides of access/roles/scopes, e.g. GET needs `read`, DELETE needs `write`. */
    method_rules: z
      .record(z.string(), rule)
      // Checked here rather than as the record's key schema, whose message would be "Invalid key".
      .superRefine((rules, ctx) => {
        for (const key of Object.keys(rules))
          if (!METHOD_TOKEN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: METHOD_MESSAGE })
      })
      .default({}),
    credentials: z.array(z.enum(CREDENTIAL_KINDS)).nonempty().default(['jwt', 'api_key']),
    api_key_sources: z
      .array(z.enum(['header', 'query', 'cookie']))
      .nonempty()
      .default(['header']),
    api_key_param: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('api_key'),
    /** Trusted external issuers (by `name`) this route accepts when `credentials` has `external_jwt`. */
    issuers: z.array(z.string()).default([]),
    strip_prefix: z.boolean().default(false),
    /** Forward paths holding `%25` + two hex digits (`%252e`), which an upstream that decodes twice misreads. */
    allow_encoded_percent: z.boolean().default(false),
    forward_authorization: z.boolean().default(false),
    timeout_ms: z.number().int().min(100).max(300_000).default(30_000),
    revocation: z.enum(['default', 'strict']).default('default'),
  })
  .strict()

export const throttleSchema = z
  .object({
    account_max_failures_per_hour: z.number().int().min(1).max(100).default(20),
    account_backoff_after: z.number().int().min(1).max(100).default(5),
    account_backoff_base_seconds: z.number().int().min(1).max(3600).default(2),
    ip_max_failures_per_window: z.number().int().min(1).max(100_000).default(50),
    ip_window_seconds: z.number().int().min(60).max(86_400).default(600),
    register_per_ip_per_window: z.number().int().min(1).max(100_000).default(20),
  })
  .strict()

// Keys are fetched only from configured URLs, so those must be https; plain http is allowed only to
// loopback (local development and tests), where nothing on the network can swap the keys.
const keySourceUrl = z
  .string()
  .url()
  .refine(
    (value) => {
      const url = new URL(value)
      if (url.protocol === 'https:') return true
      return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
    },
    { message: 'must be an https URL (http only for 127.0.0.1, localhost or [::1])' },
  )

export const externalIssuerSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]{1,64}$/),
    issuer: z.string().url(),
    jwks_url: keySourceUrl.optional(),
    discovery_url: keySourceUrl.optional(),
    audiences: z.array(z.string().min(1)).nonempty(),
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA']))
      .nonempty(),
    roles_claim: z.string().min(1).default('roles'),
    scopes_claim: z.string().min(1).default('scope'),
    /** External value → our roles. Only mapped values grant roles: empty (the default) grants none. */
    role_map: z.record(z.string(), z.array(roleName)).default({}),
    /** The external scopes this issuer may grant; others are dropped. Empty (the default) grants none. */
    allowed_scopes: z.array(externalScope).max(256).default([]),
    username_claim: z.string().min(1).default('sub'),
    /** Required `typ` header when set, e.g. "at+jwt" (RFC 9068) to refuse ID tokens as access tokens. */
    typ: z.string().min(1).optional(),
    /** How long a fetched JWKS is used before it is fetched again (an unknown `kid` refetches sooner). */
    jwks_cache_seconds: z.number().int().min(60).max(86_400).default(3_600),
    /** Minimum seconds between two JWKS fetches per isolate (an unknown `kid` cannot force more). */
    jwks_refetch_cooldown_seconds: z.number().int().min(5).max(3_600).default(30),
  })
  .strict()
  .refine((issuer) => (issuer.jwks_url === undefined) !== (issuer.discovery_url === undefined), {
    message: 'needs exactly one of jwks_url or discovery_url',
  })

export const settingsSchema = z
  .object({
    audience: z.string().min(1).default('edge-auth-gateway'),
    realm: z
      .string()
      .regex(/^[A-Za-z0-9 ._-]{1,64}$/)
      .default('edge-auth-gateway'),
    access_token_ttl_seconds: z.number().int().min(60).max(86_400).default(900),
    refresh_token_ttl_seconds: z.number().int().min(300).max(31_536_000).default(2_592_000),
    assertion_ttl_seconds: z.number().int().min(5).max(60).default(60),
    clock_skew_seconds: z.number().int().min(0).max(300).default(30),
    registration: z.boolean().default(false),
    password_grant: z.boolean().default(true),
    signing_alg: z.enum(['ES256', 'EdDSA']).default('ES256'),
    default_roles: z.array(roleName).default(['user']),
    /** role → roles it includes. Default: admin > editor > user. */
    role_hierarchy: z.record(roleName, z.array(roleName)).default({ admin: ['editor'], editor: ['user'] }),
    /** role → scopes a user holding it may be granted. */
    role_scopes: z.record(roleName, z.array(scopeName)).default({}),
    throttle: throttleSchema.default(throttleSchema.parse({})),
    external_issuers: z.array(externalIssuerSchema).default([]),
    /** Site-specific client-sent headers never forwarded (compared normalized, like X-Auth-*). */
    strip_request_headers: z
      .array(z.string().regex(HEADER_NAME, 'must be a header name (RFC 9110 token characters)'))
      .max(256)
      .default([])
      .transform((names) => [...new Set(names.map(normalizeHeaderName))]),
    /**
     * How often an open WebSocket's credential is checked again (proxy/websocket-relay.ts): a
     * revocation ends the socket within this, plus the revocation's own propagation bound.
     */
    websocket_recheck_seconds: z.number().int().min(1).max(3_600).default(30),
    /**
     * Minting an API key needs an access token whose `auth_time` is at most this old (RFC 9470
     * `max_age`): a stolen short-lived token must not turn into a long-lived key.
     */
    api_key_max_auth_age_seconds: z.number().int().min(1).max(86_400).default(300),
    /** Lifetime of a key created without `expires_in`. */
    api_key_default_ttl_days: z.number().int().min(1).max(3_650).default(90),
    /** No key lives longer than this. */
    api_key_max_ttl_days: z.number().int().min(1).max(3_650).default(365),
    /** Shown on the login and sessions pages. */
    product_name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
      .default('Edge Auth Gateway'),
    /** Browser sessions end after this long without a request (checked to within about two minutes). */
    session_idle_timeout_seconds: z.number().int().min(300).max(2_592_000).default(28_800),
    /** Browser sessions end this long after sign-in whatever the activity (browsers cap cookies at 400 days). */
    session_lifetime_seconds: z.number().int().min(300).max(34_560_000).default(604_800),
    /** Audit events older than this are deleted by the hourly cron (src/storage/cleanup.ts). */
    audit_retention_days: z.number().int().min(1).max(3_650).default(90),
    /**
     * `debug` adds the explanation of every refused proxied request (docs/openapi-routes.md) to its
     * log line: the route, the rule, the principal's id and roles (never a credential).
     */
    log_level: z.enum(['info', 'debug']).default('info'),
    /** Other origins whose pages may send session-authenticated unsafe requests (CSRF check). */
    trusted_origins: z
      .array(z.string().refine(isOrigin, { message: 'must be an origin like "https://app.example.com"' }))
      .default([]),
  })
  .strict()
  .refine((settings) => settings.api_key_default_ttl_days <= settings.api_key_max_ttl_days, {
    message: 'must not exceed api_key_max_ttl_days',
    path: ['api_key_default_ttl_days'],
  })

export const routesSchema = z.array(routeSchema).max(10_000)

export type RouteInput = z.input<typeof routeSchema>
export type RouteConfig = z.output<typeof routeSchema>
export type Settings = z.output<typeof settingsSchema>
export type ExternalIssuerConfig = z.output<typeof externalIssuerSchema>
