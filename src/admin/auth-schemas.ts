/** Schemas and response helpers of the /auth endpoints' OpenAPI description (auth-doc*.ts). */
import * as z from 'zod/mini'
import { named, type ResponseSpec } from './openapi'
import { ErrorBody, integer } from './schemas'

export const TokenResponse = named(
  'TokenResponse',
  z.object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: integer(),
    refresh_token: z.optional(z.string()),
    scope: z.string(),
  }),
)

export const OwnApiKey = named(
  'OwnApiKey',
  z.object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    roles: z.nullable(z.array(z.string())),
    created_at: integer(),
    expires_at: z.nullable(integer()),
    last_used_at: z.nullable(integer()),
    revoked_at: z.nullable(integer()),
  }),
)

export const Me = named(
  'Me',
  z.object({
    id: z.string(),
    username: z.string(),
    roles: z.array(z.string()),
    scopes: z.array(z.string()),
    auth_method: z.enum(['jwt', 'external_jwt', 'api_key', 'basic', 'session']),
    client_id: z.optional(z.string()),
  }),
)

export const Introspection = named(
  'Introspection',
  z.object({
    active: z.boolean(),
    token_type: z.optional(z.string()),
    scope: z.optional(z.string()),
    client_id: z.optional(z.string()),
    username: z.optional(z.string()),
    sub: z.optional(z.string()),
    roles: z.optional(z.array(z.string())),
    jti: z.optional(z.string()),
    iat: z.optional(z.number()),
    exp: z.optional(z.number()),
    iss: z.optional(z.string()),
    aud: z.optional(z.string()),
  }),
)

export const FORM = ['application/x-www-form-urlencoded']
export const JSON_OR_FORM = ['application/json', 'application/x-www-form-urlencoded']
export const json = (schema: z.ZodMiniType, description: string): ResponseSpec => ({ description, schema })
export const html = (description: string): ResponseSpec => ({
  description,
  schema: z.string(),
  contentType: 'text/html',
})
export const CreatedApiKey = named(
  'CreatedApiKey',
  z.extend(z.pick(OwnApiKey, { id: true, name: true, scopes: true, roles: true, expires_at: true }), {
    key: z.string(),
  }),
)
export const error = (description: string) => json(ErrorBody, description)
/** The 403 of every account-managing endpoint (requireFirstParty, docs/authorization-server.md). */
export const APP_TOKEN_REFUSED =
  'A token an app obtained for you (`insufficient_scope`): managing the account takes your own sign-in'
export const appTokenRefused = () => error(APP_TOKEN_REFUSED)
export const redirect = (description: string): ResponseSpec => ({ description })
export const IdParam = z.object({ id: z.string() })

export type Security = Record<string, string[]>[]
export const bearer: Security = [{ bearerAuth: [] }]
export const clientOrBearer: Security = [{ clientBasic: [] }, { bearerAuth: [] }]
export const bearerOrSession: Security = [{ bearerAuth: [] }, { sessionCookie: [] }]
