/**
 * The zod schemas of the admin API: they validate every request and describe every response, and
 * the OpenAPI document (src/routes/admin/openapi.ts) is generated from these same objects, so the
 * document cannot drift from what the handlers accept.
 */
import * as z from 'zod'
import { USERNAME } from '../../accounts/username'
import { AUDIT_EVENT_TYPES } from '../../audit/events'
import { named } from './openapi'

const NAME = /^[a-z][a-z0-9_:.-]{0,63}$/
export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/
export const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials', 'authorization_code'] as const

const roleName = z.string().regex(NAME, 'a role is a lowercase name ([a-z][a-z0-9_:.-]*, max 64)')
const scopeName = z.string().regex(NAME, 'a scope is a lowercase name ([a-z][a-z0-9_:.-]*, max 64)')
const epochSeconds = z.number().int().meta({ description: 'Unix time, seconds' })

export const ErrorBody = named(
  'Error',
  z.object({
    error: z.string().meta({ example: 'invalid_request' }),
    error_description: z.string(),
    request_id: z.string(),
  }),
)

export const UserId = z.object({
  id: z.string().min(1).max(128),
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
  }),
)

export const Cursor = z
  .string()
  .max(512)
  .optional()
  .meta({ description: 'The `next_cursor` of the previous page' })
export const Limit = z.coerce.number().int().min(1).max(200).default(50)

export function listOf<T extends z.ZodType>(item: T, name: string) {
  return named(
    name,
    z.object({
      items: z.array(item),
      next_cursor: z.string().nullable().meta({ description: 'null on the last page' }),
    }),
  )
}

export const UserList = listOf(User, 'UserList')

export const UserQuery = z.object({
  q: z.string().max(64).optional().meta({ description: 'Usernames containing this text' }),
  cursor: Cursor,
  limit: Limit,
})

export const CreateUser = named(
  'CreateUser',
  z
    .object({
      username: z.string().regex(USERNAME, 'must be 3-64 letters, digits or . _ @ + - characters'),
      password: z.string().min(1).max(1024),
      roles: z.array(roleName).max(32).optional().meta({ description: 'Default: SETTINGS.default_roles' }),
    })
    .strict(),
)

export const UpdateUser = named(
  'UpdateUser',
  z
    .object({
      roles: z.array(roleName).min(1).max(32).optional(),
      disabled: z.boolean().optional(),
    })
    .strict()
    .refine((body) => body.roles !== undefined || body.disabled !== undefined, {
      message: 'give "roles", "disabled" or both',
    }),
)

export const RevokeResult = named(
  'RevokeResult',
  z.object({
    user_id: z.string(),
    not_before: z.string().meta({ description: 'Access tokens issued before this instant are void' }),
    api_keys_revoked: z.number().int(),
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
    ip: z.string().nullable(),
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
    roles: z.array(z.string()).nullable(),
    created_at: epochSeconds,
    expires_at: epochSeconds.nullable(),
    last_used_at: epochSeconds.nullable(),
    revoked_at: epochSeconds.nullable(),
  }),
)

export const ApiKeyList = listOf(ApiKey, 'ApiKeyList')
export const ApiKeyId = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/, 'an API key id is 16 hex digits'),
})
export const ApiKeyQuery = z.object({
  user_id: z.string().max(128).optional(),
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
    disabled: z.boolean(),
    created_at: epochSeconds,
  }),
)

export const ClientList = listOf(Client, 'ClientList')
export const ClientId = z.object({
  id: z.string().regex(CLIENT_ID),
})
export const CreateClient = named(
  'CreateClient',
  z
    .object({
      client_id: z.string().regex(CLIENT_ID, 'must be 1-128 letters, digits or . _ : @ - characters'),
      name: z
        .string()
        .max(200)
        .regex(/^[^\p{Cc}]*$/u, 'must be one line')
        .optional(),
      public: z.boolean().optional().meta({ description: 'A public client has no secret' }),
      grant_types: z.array(z.enum(GRANT_TYPES)).min(1).optional(),
      scopes: z.array(scopeName).max(64).optional(),
      roles: z.array(roleName).max(32).optional(),
      redirect_uris: z.array(z.string().max(2048)).max(32).optional().meta({
        description: 'Exact redirect URIs for the authorization code flow (https, or http on loopback)',
      }),
      post_logout_redirect_uris: z.array(z.string().max(2048)).max(32).optional(),
      skip_consent: z.boolean().optional().meta({ description: 'A first-party app: no consent page' }),
    })
    .strict(),
)

export const CreatedClient = named(
  'CreatedClient',
  Client.extend({
    client_secret: z.string().optional().meta({ description: 'Shown only in this response' }),
  }),
)

export const ClientSecret = named(
  'ClientSecret',
  z.object({ client_id: z.string(), client_secret: z.string() }),
)

const detailValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())])

export const AuditEvent = named(
  'AuditEvent',
  z.object({
    id: z.string(),
    at: z.string().meta({ description: 'ISO 8601, UTC' }),
    type: z.enum(AUDIT_EVENT_TYPES),
    outcome: z.enum(['success', 'failure']),
    actor_id: z.string().nullable(),
    subject_id: z.string().nullable(),
    client_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), detailValue),
  }),
)

export const AuditList = listOf(AuditEvent, 'AuditList')

const instant = z.string().max(40).optional().meta({ description: 'ISO 8601 date-time, or Unix seconds' })
export const AuditQuery = z.object({
  type: z.enum(AUDIT_EVENT_TYPES).optional(),
  actor_id: z.string().max(200).optional(),
  subject_id: z.string().max(200).optional(),
  since: instant,
  until: instant,
  cursor: Cursor,
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(['json', 'jsonl']).default('json'),
})

export const CreateApiKey = named(
  'CreateApiKey',
  z
    .object({
      name: z.string().regex(/^[\p{L}\p{N} ._:-]{1,64}$/u, 'must be 1-64 letters, digits, spaces or . _ : -'),
      scopes: z.array(scopeName).max(64).optional(),
      roles: z.array(roleName).max(32).optional(),
      expires_in: z
        .number()
        .int()
        .optional()
        .meta({ description: 'Seconds; default and maximum from SETTINGS' }),
    })
    .strict(),
)
export const CreatedApiKey = named(
  'AdminCreatedApiKey',
  ApiKey.extend({ key: z.string().meta({ description: 'Shown only in this response' }) }),
)
