/**
 * The zod schemas of the admin API: they validate every request and describe every response, and
 * the OpenAPI document (src/admin/openapi.ts) is generated from these same objects, so the
 * document cannot drift from what the handlers accept.
 */
import * as z from 'zod/mini'
import { AUDIT_EVENT_TYPES } from '../audit'
import { USERNAME } from '../users'
import { named } from './openapi'

const NAME = /^[a-z][a-z0-9_:.-]{0,63}$/
export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/
export const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials', 'authorization_code'] as const

const roleName = z.string().check(z.regex(NAME, 'a role is a lowercase name ([a-z][a-z0-9_:.-]*, max 64)'))
const scopeName = z.string().check(z.regex(NAME, 'a scope is a lowercase name ([a-z][a-z0-9_:.-]*, max 64)'))
export const integer = () => z.number().check(z.int())
export const epochSeconds = integer().check(z.describe('Unix time, seconds'))
/** Text up to `max` characters, optional (an absent query parameter or body field). */
const optionalText = (max: number) => z.optional(z.string().check(z.maxLength(max)))

export const ErrorBody = named(
  'Error',
  z.object({
    error: z.string().check(z.meta({ example: 'invalid_request' })),
    error_description: z.string(),
    request_id: z.string(),
  }),
)

export const UserId = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
})

export const User = named(
  'User',
  z.object({
    id: z.string(),
    username: z.string(),
    roles: z.array(z.string()),
    disabled: z.boolean(),
    created_at: epochSeconds,
    updated_at: epochSeconds,
    password_changed_at: epochSeconds,
    email: z.nullable(z.string()),
    email_verified: z.boolean(),
  }),
)

/** What second factors a user has: never a secret (issue 22, item 5). */
export const Factors = named(
  'Factors',
  z.object({
    totp: z.boolean().check(z.describe('An authenticator app is set up')),
    recovery_codes_remaining: integer().check(z.describe('Unused recovery codes')),
    passkeys: integer().check(z.describe('Registered passkeys (GET /admin/users/{id}/passkeys lists them)')),
    mfa_enabled: z
      .boolean()
      .check(z.describe('A password or provider sign-in must be followed by a second factor')),
  }),
)

/** GET /admin/users/{id}: the user and their second factors. */
export const UserDetail = named('UserDetail', z.extend(User, { factors: Factors }))

export const FactorsReset = named(
  'FactorsReset',
  z.object({
    user_id: z.string(),
    totp_removed: z.boolean(),
    recovery_codes_removed: integer(),
    factors: Factors,
  }),
)

export const Cursor = optionalText(512).check(z.describe('The `next_cursor` of the previous page'))
export const Limit = z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(200)), 50)

export function listOf<T extends z.ZodMiniType>(item: T, name: string) {
  return named(
    name,
    z.object({
      items: z.array(item),
      next_cursor: z.nullable(z.string()).check(z.describe('null on the last page')),
    }),
  )
}

export const UserList = listOf(User, 'UserList')

export const UserQuery = z.object({
  q: optionalText(64).check(z.describe('Usernames containing this text')),
  cursor: Cursor,
  limit: Limit,
})

export const CreateUser = named(
  'CreateUser',
  z.strictObject({
    username: z.string().check(z.regex(USERNAME, 'must be 3-64 letters, digits or . _ @ + - characters')),
    password: z.string().check(z.minLength(1), z.maxLength(1024)),
    roles: z
      .optional(z.array(roleName).check(z.maxLength(32)))
      .check(z.describe('Default: SETTINGS.default_roles')),
  }),
)

export const UpdateUser = named(
  'UpdateUser',
  z
    .strictObject({
      roles: z.optional(z.array(roleName).check(z.minLength(1), z.maxLength(32))),
      disabled: z.optional(z.boolean()),
      /** Normalized on the way in; null removes the address. */
      email: z.optional(z.nullable(z.string().check(z.maxLength(254)))),
      email_verified: z.optional(z.boolean()),
    })
    .check(
      z.refine((body) => Object.values(body).some((value) => value !== undefined), {
        message: 'give at least one of "roles", "disabled", "email", "email_verified"',
      }),
    ),
)

export const RevokeResult = named(
  'RevokeResult',
  z.object({
    user_id: z.string(),
    not_before: z.string().check(z.describe('Access tokens issued before this instant are void')),
    api_keys_revoked: integer(),
  }),
)

export const Session = named(
  'Session',
  z.object({
    id: z.string(),
    created_at: epochSeconds,
    last_seen_at: epochSeconds,
    expires_at: epochSeconds,
    user_agent: z.string(),
    ip: z.nullable(z.string()),
    auth_method: z.string(),
  }),
)

export const SessionList = listOf(Session, 'SessionList')

export const ApiKey = named(
  'ApiKey',
  z.object({
    id: z.string(),
    user_id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    roles: z.nullable(z.array(z.string())),
    created_at: epochSeconds,
    expires_at: z.nullable(epochSeconds),
    last_used_at: z.nullable(epochSeconds),
    revoked_at: z.nullable(epochSeconds),
  }),
)

export const ApiKeyList = listOf(ApiKey, 'ApiKeyList')
export const ApiKeyId = z.object({
  id: z.string().check(z.regex(/^[0-9a-f]{16}$/, 'an API key id is 16 hex digits')),
})
export const ApiKeyQuery = z.object({
  user_id: optionalText(128),
  cursor: Cursor,
  limit: Limit,
})

export const Client = named(
  'Client',
  z.object({
    client_id: z.string(),
    name: z.string(),
    confidential: z.boolean(),
    grant_types: z.array(z.enum(GRANT_TYPES)),
    scopes: z.array(z.string()),
    roles: z.array(z.string()),
    redirect_uris: z.array(z.string()),
    post_logout_redirect_uris: z.array(z.string()),
    skip_consent: z.boolean(),
    first_party: z.boolean(),
    allowed_roles: z.array(z.string()),
    allowed_origins: z.array(z.string()),
    disabled: z.boolean(),
    created_at: epochSeconds,
    registration: z
      .enum(['operator', 'dynamic'])
      .check(z.describe('operator: admin API or CLI; dynamic: the client registered itself (RFC 7591)')),
    last_used_at: z
      .nullable(epochSeconds)
      .check(z.describe('When a code was last issued for it; a dynamic client never used expires')),
  }),
)

export const ClientList = listOf(Client, 'ClientList')
export const ClientId = z.object({
  id: z.string().check(z.regex(CLIENT_ID)),
})
const uris = () => z.optional(z.array(z.string().check(z.maxLength(2048))).check(z.maxLength(32)))
export const CreateClient = named(
  'CreateClient',
  z.strictObject({
    client_id: z.string().check(z.regex(CLIENT_ID, 'must be 1-128 letters, digits or . _ : @ - characters')),
    name: z.optional(z.string().check(z.maxLength(200), z.regex(/^[^\p{Cc}]*$/u, 'must be one line'))),
    public: z.optional(z.boolean()).check(z.describe('A public client has no secret')),
    grant_types: z.optional(z.array(z.enum(GRANT_TYPES)).check(z.minLength(1))),
    scopes: z.optional(z.array(scopeName).check(z.maxLength(64))),
    roles: z.optional(z.array(roleName).check(z.maxLength(32))),
    redirect_uris: uris().check(
      z.describe('Exact redirect URIs for the authorization code flow (https, or http on loopback)'),
    ),
    post_logout_redirect_uris: uris(),
    skip_consent: z
      .optional(z.boolean())
      .check(z.describe('No consent page for scopes the client may request (roles are still asked for)')),
    first_party: z
      .optional(z.boolean())
      .check(
        z.describe(
          "The operator's own app: its tokens act with every role of the user and may manage the account",
        ),
      ),
    allowed_roles: z
      .optional(z.array(roleName).check(z.maxLength(32)))
      .check(z.describe("Roles a delegated token may act with: the user's roles ∩ these (default none)")),
    allowed_origins: z
      .optional(z.array(z.string().check(z.maxLength(2048))).check(z.maxLength(32)))
      .check(
        z.describe(
          "Browser origins, besides the redirect URIs' own, allowed CORS on /auth/token, /auth/revoke and /auth/userinfo",
        ),
      ),
  }),
)

export const UpdateClient = named(
  'UpdateClient',
  z.strictObject({
    skip_consent: z.optional(z.boolean()),
    first_party: z.optional(z.boolean()),
    allowed_roles: z.optional(z.array(roleName).check(z.maxLength(32))),
    allowed_origins: z.optional(z.array(z.string().check(z.maxLength(2048))).check(z.maxLength(32))),
    disabled: z
      .optional(z.boolean())
      .check(z.describe('A disabled client can neither authorize nor get tokens')),
  }),
)

export const CreatedClient = named(
  'CreatedClient',
  z.extend(Client, {
    client_secret: z.optional(z.string()).check(z.describe('Shown only in this response')),
  }),
)

export const ClientSecret = named(
  'ClientSecret',
  z.object({ client_id: z.string(), client_secret: z.string() }),
)

const detailValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())])
const nullableText = () => z.nullable(z.string())

export const AuditEvent = named(
  'AuditEvent',
  z.object({
    id: z.string(),
    at: z.string().check(z.describe('ISO 8601, UTC')),
    type: z.enum(AUDIT_EVENT_TYPES),
    outcome: z.enum(['success', 'failure']),
    actor_id: nullableText(),
    subject_id: nullableText(),
    client_id: nullableText(),
    ip: nullableText(),
    user_agent: nullableText(),
    request_id: nullableText(),
    details: z.record(z.string(), detailValue),
  }),
)

export const AuditList = listOf(AuditEvent, 'AuditList')

const instant = optionalText(40).check(z.describe('ISO 8601 date-time, or Unix seconds'))
export const AuditQuery = z.object({
  type: z.optional(z.enum(AUDIT_EVENT_TYPES)),
  actor_id: optionalText(200),
  subject_id: optionalText(200),
  since: instant,
  until: instant,
  cursor: Cursor,
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(1000)), 100),
  format: z._default(z.enum(['json', 'jsonl']), 'json'),
})

export const CreateApiKey = named(
  'CreateApiKey',
  z.strictObject({
    name: z
      .string()
      .check(z.regex(/^[\p{L}\p{N} ._:-]{1,64}$/u, 'must be 1-64 letters, digits, spaces or . _ : -')),
    scopes: z.optional(z.array(scopeName).check(z.maxLength(64))),
    roles: z.optional(z.array(roleName).check(z.maxLength(32))),
    expires_in: z.optional(integer()).check(z.describe('Seconds; default and maximum from SETTINGS')),
  }),
)
export const CreatedApiKey = named(
  'AdminCreatedApiKey',
  z.extend(ApiKey, { key: z.string().check(z.describe('Shown only in this response')) }),
)
