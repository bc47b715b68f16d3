import * as z from 'zod/mini'
import { METHOD_TOKEN } from '../routing/methods'
import { HEADER_NAME, normalizeHeaderName } from './header-names'
import './zod-locale'

export const CREDENTIAL_KINDS = ['jwt', 'external_jwt', 'api_key', 'basic', 'session'] as const
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number]

const NAME = /^[a-z][a-z0-9_:.-]{0,63}$/
const VAR_NAME = /^[A-Z][A-Z0-9_]{0,63}$/

const roleName = z
  .string()
  .check(z.regex(NAME, 'must be lowercase letters, digits, "_", ":", ".", "-" (max 64)'))
const scopeName = z
  .string()
  .check(z.regex(NAME, 'must be lowercase letters, digits, "_", ":", ".", "-" (max 64)'))
const METHOD_MESSAGE = 'must be an uppercase HTTP method token (RFC 9110 §9.1), e.g. "GET" or "PROPFIND"'
const method = z.string().check(z.regex(METHOD_TOKEN, METHOD_MESSAGE))
// RFC 6749 §3.3 scope-token: an IdP's scopes (`read:messages`, `User.Read`) need not fit our own names.
const externalScope = z
  .string()
  .check(z.regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/, 'must be an OAuth scope token (RFC 6749 §3.3)'))

/** An integer in [min, max] with a default: most numeric settings. */
function integer(min: number, max: number, fallback: number) {
  return z._default(z.number().check(z.int(), z.gte(min), z.lte(max)), fallback)
}

/** A non-empty array (at least one element). */
function nonEmpty<T extends z.ZodMiniType>(item: T) {
  return z.array(item).check(z.minLength(1))
}

export function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '')
  } catch {
    return false
  }
}

const upstream = z.string().check(
  z.refine((value) => VAR_NAME.test(value) || isOrigin(value), {
    message: 'must be an origin like "https://api.internal" (no path) or the name of a var that holds one',
  }),
)

/** One alternative of `any_of` (authz/policy.ts): all of its fields must hold. */
const alternative = z.strictObject({
  credentials: z.optional(nonEmpty(z.enum(CREDENTIAL_KINDS))),
  roles: z.optional(z.array(roleName)),
  scopes: z.optional(z.array(scopeName)),
})
const anyOf = nonEmpty(alternative).check(z.maxLength(32))

/** `deny`: nobody (what the OpenAPI importer writes for an operation that declares no security). */
const ACCESS = ['public', 'authenticated', 'deny'] as const

/** Whether tokens issued to apps acting for a user may call the route (authz/policy.ts). */
export const DELEGATED = ['allow', 'deny'] as const
/** A route's `identity`: what tells its upstream who is calling (src/proxy/headers.ts). */
export const IDENTITY_MODES = ['headers', 'assertion'] as const

const rule = z.strictObject({
  access: z.optional(z.enum(ACCESS)),
  roles: z.optional(z.array(roleName)),
  scopes: z.optional(z.array(scopeName)),
  any_of: z.optional(anyOf),
})

/**
 * One `mcp_rules` entry: a JSON-RPC method of an MCP server (and, for tools/resources/prompts, the
 * tool, resource or prompt name) → what calling it requires, on top of the route's own rule.
 */
export const mcpRuleSchema = z.strictObject({
  method: z
    .string()
    .check(z.regex(/^[A-Za-z0-9_./-]{1,128}$/, 'must be a JSON-RPC method name like "tools/call"')),
  /** `Mcp-Name`: a tool, prompt or resource; without it the rule covers every name of the method. */
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  roles: z._default(z.array(roleName), []),
  scopes: z._default(z.array(scopeName), []),
})

export type McpRule = z.output<typeof mcpRuleSchema>

export const routeSchema = z.strictObject({
  path: z.string().check(z.startsWith('/', 'must start with "/"'), z.maxLength(1024)),
  /**
   * `prefix` covers the path and everything below; `exact` only the path itself. Default: prefix
   * for a plain path, exact for a templated one (unless it ends in `{rest*}`). See routing/route-pattern.ts.
   */
  match: z.optional(z.enum(['prefix', 'exact'])),
  methods: z.optional(nonEmpty(method)),
  /** Without a port: the host on any port. With one: only requests that name that port. */
  host: z.optional(
    z.string().check(
      z.regex(
        /^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/,
        'must be a lowercase host name (no trailing dot), optionally with a port',
      ),
      z.refine((host) => Number(host.split(':')[1] ?? 1) <= 65_535, { message: 'has a port above 65535' }),
      // The runtime drops a scheme's default port from the request URL, so "host:443" would never
      // see an https request; the bare host already covers every port.
      z.refine((host) => !/:(80|443)$/.test(host), {
        message: 'must not name port 80 or 443 (a host without a port covers every port)',
      }),
    ),
  ),
  upstream,
  access: z._default(z.enum(ACCESS), 'authenticated'),
  roles: z._default(z.array(roleName), []),
  scopes: z._default(z.array(scopeName), []),
  /** At least one of these must hold too (OpenAPI: alternative security requirements). */
  any_of: z.optional(anyOf),
  /** Per-method overrides of access/roles/scopes, e.g. GET needs `read`, DELETE needs `write`. */
  method_rules: z._default(
    z.record(z.string(), rule).check(
      // Checked here rather than as the record's key schema, whose message would be "Invalid key".
      z.superRefine((rules, ctx) => {
        for (const key of Object.keys(rules))
          if (!METHOD_TOKEN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: METHOD_MESSAGE })
      }),
    ),
    {},
  ),
  credentials: z._default(nonEmpty(z.enum(CREDENTIAL_KINDS)), ['jwt', 'api_key']),
  api_key_sources: z._default(nonEmpty(z.enum(['header', 'query', 'cookie'])), ['header']),
  api_key_param: z._default(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)), 'api_key'),
  /** Trusted external issuers (by `name`) this route accepts when `credentials` has `external_jwt`. */
  issuers: z._default(z.array(z.string()), []),
  strip_prefix: z._default(z.boolean(), false),
  /** Forward paths holding `%25` + two hex digits (`%252e`), which an upstream that decodes twice misreads. */
  allow_encoded_percent: z._default(z.boolean(), false),
  forward_authorization: z._default(z.boolean(), false),
  /**
   * What tells the upstream who is calling: `headers`, every identity header (X-Auth-User,
   * -Roles, -Scopes, -Method, -Issuer, -User-Id and the assertion); `assertion`, only
   * X-Auth-Assertion and X-Auth-User-Id, for upstreams that verify the assertion and read the rest
   * from its claims (docs/upstream.md). Public requests are the same in both: X-Auth-Method none.
   */
  identity: z._default(z.enum(IDENTITY_MODES), 'headers'),
  timeout_ms: integer(100, 300_000, 30_000),
  revocation: z._default(z.enum(['default', 'strict']), 'default'),
  /**
   * `deny`: a delegated token (one of ours issued to an app, authz/principal.ts `isDelegated`)
   * is refused here, whatever its roles and scopes; the user's own credentials still pass. For the
   * whole route: a method that apps may call goes in a route of its own (`methods`).
   */
  delegated: z._default(z.enum(DELEGATED), 'allow'),
  /**
   * Step-up (docs/passkeys-and-mfa.md): the user must have signed in with a second factor or a
   * passkey (`require_mfa`) and/or at most `max_auth_age` seconds ago. Bearer callers get RFC
   * 9470's `insufficient_user_authentication` challenge; browsers the second-factor page.
   */
  require_mfa: z._default(z.boolean(), false),
  max_auth_age: z.optional(z.number().check(z.int(), z.gte(0), z.lte(31_536_000))),
  /**
   * A Model Context Protocol server (Streamable HTTP): tokens must name `resource` as their
   * audience (RFC 8707), refusals are JSON-RPC errors, and `mcp_rules` decide per method and tool
   * (docs/mcp.md).
   */
  mcp: z._default(z.boolean(), false),
  /** The RFC 8707 resource identifier; default ISSUER + the route's path. Only with `mcp`. */
  resource: z.optional(z.string().check(z.maxLength(2048))),
  mcp_rules: z._default(z.array(mcpRuleSchema).check(z.maxLength(1000)), []),
})

export const throttleSchema = z.strictObject({
  account_max_failures_per_hour: integer(1, 100, 20),
  account_backoff_after: integer(1, 100, 5),
  account_backoff_base_seconds: integer(1, 3600, 2),
  ip_max_failures_per_window: integer(1, 100_000, 50),
  ip_window_seconds: integer(60, 86_400, 600),
  register_per_ip_per_window: integer(1, 100_000, 20),
})

/** An email address as the settings take it (a sender): checked loosely, the provider checks the rest. */
const emailAddress = z
  .string()
  .check(z.regex(/^[^\s@<>"]{1,64}@[^\s@<>"]{1,255}$/, 'must be an email address like "auth@example.com"'))

/** A subject and body of one kind of mail; `{link}`, `{code}`, `{username}`, `{product}` are filled in. */
const emailTemplate = z.strictObject({
  subject: z.optional(z.string().check(z.minLength(1), z.maxLength(200), z.regex(/^[^\p{Cc}]*$/u))),
  text: z.optional(z.string().check(z.minLength(1), z.maxLength(4000))),
})

/** Email addresses, verification, password reset and sign-in by email (docs/email.md). */
export const emailSchema = z.strictObject({
  /** The sender: an address of a domain onboarded to Cloudflare Email Service. */
  from: z._default(emailAddress, 'auth@example.com'),
  from_name: z.optional(z.string().check(z.minLength(1), z.maxLength(64), z.regex(/^[^\p{Cc}"<>]*$/u))),
  /** Registration must name an address (otherwise it may). */
  required_at_registration: z._default(z.boolean(), false),
  /** Sign-in by an emailed link (magic link): off unless set. */
  sign_in_link: z._default(z.boolean(), false),
  /** Sign-in by an emailed 6-digit code: off unless set. */
  sign_in_code: z._default(z.boolean(), false),
  /** Lifetime of an emailed link; 30 minutes at most (a link sits in a mailbox). */
  link_ttl_seconds: integer(60, 1_800, 1_800),
  /** Lifetime of an emailed code. */
  code_ttl_seconds: integer(60, 1_800, 600),
  /** Wrong attempts an emailed code survives; the next one ends it. */
  code_max_attempts: integer(1, 10, 5),
  /** Mails a submitted address may trigger per hour (whether or not a user has it). */
  per_address_per_hour: integer(1, 100, 5),
  /** Requests for mail per client address (IPv6: per /64) per hour. */
  per_ip_per_hour: integer(1, 10_000, 30),
  templates: z._default(
    z.strictObject({
      verify_email: z.optional(emailTemplate),
      password_reset: z.optional(emailTemplate),
      sign_in_link: z.optional(emailTemplate),
      sign_in_code: z.optional(emailTemplate),
      email_change: z.optional(emailTemplate),
      email_change_notice: z.optional(emailTemplate),
      address_in_use: z.optional(emailTemplate),
    }),
    {},
  ),
})

export type EmailSettings = z.output<typeof emailSchema>

/** RFC 7591 self-registration by clients (POST /auth/clients, docs/authorization-server.md). */
export const dynamicClientsSchema = z.strictObject({
  /** A registrant may ask for a secret (client_secret_basic/post); off: public clients (PKCE) only. */
  allow_confidential: z._default(z.boolean(), false),
  /** The scopes a self-registered client may be registered with; absent: every scope the metadata lists. */
  scopes: z.optional(z.array(scopeName).check(z.maxLength(64))),
  /** Registrations (successful or not) per client address (IPv6: per /64) per hour. */
  per_ip_per_hour: integer(1, 10_000, 10),
  /** A self-registered client for which no code was issued this long after registration is deleted. */
  unused_expiry_hours: integer(1, 8_760, 24),
})

// Keys are fetched only from configured URLs, so those must be https; plain http is allowed only to
// loopback (local development and tests), where nothing on the network can swap the keys.
const keySourceUrl = z.string().check(
  // abort: the refinement below parses the URL, which throws on what this check has refused.
  z.url({ abort: true }),
  z.refine(
    (value) => {
      const url = new URL(value)
      if (url.protocol === 'https:') return true
      return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
    },
    { message: 'must be an https URL (http only for 127.0.0.1, localhost or [::1])' },
  ),
)
const minOne = () => z.string().check(z.minLength(1))

export const externalIssuerSchema = z
  .strictObject({
    name: z.string().check(z.regex(/^[a-z0-9_-]{1,64}$/)),
    issuer: z.string().check(z.url()),
    jwks_url: z.optional(keySourceUrl),
    discovery_url: z.optional(keySourceUrl),
    audiences: nonEmpty(minOne()),
    algorithms: nonEmpty(
      z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA']),
    ),
    roles_claim: z._default(minOne(), 'roles'),
    scopes_claim: z._default(minOne(), 'scope'),
    /** External value → our roles. Only mapped values grant roles: empty (the default) grants none. */
    role_map: z._default(z.record(z.string(), z.array(roleName)), {}),
    /** The external scopes this issuer may grant; others are dropped. Empty (the default) grants none. */
    allowed_scopes: z._default(z.array(externalScope).check(z.maxLength(256)), []),
    username_claim: z._default(minOne(), 'sub'),
    /** Required `typ` header when set, e.g. "at+jwt" (RFC 9068) to refuse ID tokens as access tokens. */
    typ: z.optional(minOne()),
    /** How long a fetched JWKS is used before it is fetched again (an unknown `kid` refetches sooner). */
    jwks_cache_seconds: integer(60, 86_400, 3_600),
    /** Minimum seconds between two JWKS fetches per isolate (an unknown `kid` cannot force more). */
    jwks_refetch_cooldown_seconds: integer(5, 3_600, 30),
  })
  .check(
    z.refine((issuer) => (issuer.jwks_url === undefined) !== (issuer.discovery_url === undefined), {
      message: 'needs exactly one of jwks_url or discovery_url',
    }),
  )

export const settingsSchema = z
  .strictObject({
    audience: z._default(minOne(), 'edge-auth-gateway'),
    realm: z._default(z.string().check(z.regex(/^[A-Za-z0-9 ._-]{1,64}$/)), 'edge-auth-gateway'),
    access_token_ttl_seconds: integer(60, 86_400, 900),
    refresh_token_ttl_seconds: integer(300, 31_536_000, 2_592_000),
    assertion_ttl_seconds: integer(5, 60, 60),
    clock_skew_seconds: integer(0, 300, 30),
    registration: z._default(z.boolean(), false),
    /**
     * RFC 7591 `POST /auth/clients` and its `registration_endpoint` in the metadata. On by default:
     * MCP clients rely on it, and a self-registered client is public, delegated and consented.
     */
    dynamic_client_registration: z._default(z.boolean(), true),
    dynamic_clients: z._default(dynamicClientsSchema, dynamicClientsSchema.parse({})),
    password_grant: z._default(z.boolean(), true),
    signing_alg: z._default(z.enum(['ES256', 'EdDSA']), 'ES256'),
    default_roles: z._default(z.array(roleName), ['user']),
    /** role → roles it includes. Default: admin > editor > user. */
    role_hierarchy: z._default(z.record(roleName, z.array(roleName)), {
      admin: ['editor'],
      editor: ['user'],
    }),
    /** role → scopes a user holding it may be granted. */
    role_scopes: z._default(z.record(roleName, z.array(scopeName)), {}),
    throttle: z._default(throttleSchema, throttleSchema.parse({})),
    email: z._default(emailSchema, emailSchema.parse({})),
    external_issuers: z._default(z.array(externalIssuerSchema), []),
    /** Site-specific client-sent headers never forwarded (compared normalized, like X-Auth-*). */
    strip_request_headers: z.pipe(
      z._default(
        z
          .array(z.string().check(z.regex(HEADER_NAME, 'must be a header name (RFC 9110 token characters)')))
          .check(z.maxLength(256)),
        [],
      ),
      z.transform((names) => [...new Set(names.map(normalizeHeaderName))]),
    ),
    /**
     * How often an open WebSocket's credential is checked again (proxy/websocket-relay.ts): a
     * revocation ends the socket within this, plus the revocation's own propagation bound.
     */
    websocket_recheck_seconds: integer(1, 3_600, 30),
    /**
     * Add `X-Request-Id` to proxied upstream responses too (Envoy's
     * `always_set_request_id_in_response`). Off: the upstream's response goes back as it is, without
     * the copy a fetch() response's immutable headers would need; the gateway's own responses and
     * every forwarded request carry the id either way.
     */
    response_request_id: z._default(z.boolean(), false),
    /**
     * The largest JSON-RPC body an MCP route reads to decide on it (src/mcp/json-rpc.ts); a larger
     * one is 413, never forwarded unjudged. A tool call's arguments are rarely past a few KiB.
     */
    mcp_max_body_bytes: integer(1_024, 10 * 1024 * 1024, 1024 * 1024),
    /**
     * Local development and tests only: `host:port` of a stand-in Client ID Metadata Document host
     * on loopback, fetched over http and past the fetch guard's host rules (oauth/fetch-guard.ts).
     * config/load.ts refuses it unless ISSUER is a loopback origin, so no deployment can set it.
     */
    client_metadata_document_allow_hosts: z._default(
      z
        .array(
          z
            .string()
            .check(
              z.regex(
                /^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/,
                'must be a loopback host:port such as "127.0.0.1:8788"',
              ),
            ),
        )
        .check(z.maxLength(8)),
      [],
    ),
    /**
     * Minting an API key needs an access token whose `auth_time` is at most this old (RFC 9470
     * `max_age`): a stolen short-lived token must not turn into a long-lived key.
     */
    api_key_max_auth_age_seconds: integer(1, 86_400, 300),
    /**
     * Adding, changing or removing a second factor (the authenticator app, recovery codes) needs a
     * browser sign-in at most this old: a stolen session must not turn the factor off.
     */
    factor_change_max_auth_age_seconds: integer(1, 86_400, 300),
    /**
     * Users with role `admin` must have a second factor to act as admins (checked by the step-up
     * rules, docs/passkeys-and-mfa.md). Off by default: turning it on locks out admins without one.
     */
    require_mfa_for_admin: z._default(z.boolean(), false),
    /** Lifetime of a key created without `expires_in`. */
    api_key_default_ttl_days: integer(1, 3_650, 90),
    /** No key lives longer than this. */
    api_key_max_ttl_days: integer(1, 3_650, 365),
    /** Shown on the login and sessions pages. */
    product_name: z._default(
      z
        .string()
        .check(
          z.minLength(1),
          z.maxLength(64),
          z.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
        ),
      'Edge Auth Gateway',
    ),
    /** Browser sessions end after this long without a request (checked to within about two minutes). */
    session_idle_timeout_seconds: integer(300, 2_592_000, 28_800),
    /** Browser sessions end this long after sign-in whatever the activity (browsers cap cookies at 400 days). */
    session_lifetime_seconds: integer(300, 34_560_000, 604_800),
    /** Audit events older than this are deleted by the hourly cron (src/cleanup.ts). */
    audit_retention_days: integer(1, 3_650, 90),
    /**
     * `debug` adds the explanation of every refused proxied request (docs/openapi-routes.md) to its
     * log line: the route, the rule, the principal's id and roles (never a credential).
     */
    log_level: z._default(z.enum(['info', 'debug']), 'info'),
    /** Other origins whose pages may send session-authenticated unsafe requests (CSRF check). */
    trusted_origins: z._default(
      z.array(
        z.string().check(z.refine(isOrigin, { message: 'must be an origin like "https://app.example.com"' })),
      ),
      [],
    ),
  })
  .check(
    z.refine((settings) => settings.api_key_default_ttl_days <= settings.api_key_max_ttl_days, {
      message: 'must not exceed api_key_max_ttl_days',
      path: ['api_key_default_ttl_days'],
    }),
  )

export const routesSchema = z.array(routeSchema).check(z.maxLength(10_000))

export type RouteInput = z.input<typeof routeSchema>
export type RouteConfig = z.output<typeof routeSchema>
export type Settings = z.output<typeof settingsSchema>
export type ExternalIssuerConfig = z.output<typeof externalIssuerSchema>
