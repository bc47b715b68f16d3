/** Schemas and response helpers of the /auth endpoints' OpenAPI description (auth-doc*.ts). */
import * as z from 'zod'
import type { ZodMiniType } from 'zod/mini'
import { named, type ResponseSpec } from './openapi'
import { ErrorBody } from './schemas'

export const TokenResponse = named(
  'TokenResponse',
  z.object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string().optional(),
    scope: z.string(),
    id_token: z.optional(z.string()),
  }),
)

export const OwnApiKey = named(
  'OwnApiKey',
  z.object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    roles: z.array(z.string()).nullable(),
    created_at: z.number().int(),
    expires_at: z.number().int().nullable(),
    last_used_at: z.number().int().nullable(),
    revoked_at: z.number().int().nullable(),
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
    client_id: z.string().optional(),
  }),
)

export const Introspection = named(
  'Introspection',
  z.object({
    active: z.boolean(),
    token_type: z.string().optional(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    username: z.string().optional(),
    sub: z.string().optional(),
    roles: z.array(z.string()).optional(),
    jti: z.string().optional(),
    iat: z.number().optional(),
    exp: z.number().optional(),
    iss: z.string().optional(),
    aud: z.string().optional(),
  }),
)

export const FORM = ['application/x-www-form-urlencoded']
export const JSON_OR_FORM = ['application/json', 'application/x-www-form-urlencoded']
export const json = (schema: ZodMiniType, description: string): ResponseSpec => ({ description, schema })
export const html = (description: string): ResponseSpec => ({
  description,
  schema: z.string(),
  contentType: 'text/html',
})
export const CreatedApiKey = named(
  'CreatedApiKey',
  OwnApiKey.pick({ id: true, name: true, scopes: true, roles: true, expires_at: true }).extend({
    key: z.string(),
  }),
)
export const error = (description: string) => json(ErrorBody, description)
export const redirect = (description: string): ResponseSpec => ({ description })
export const IdParam = z.object({ id: z.string() })

export type Security = Record<string, string[]>[]
export const bearer: Security = [{ bearerAuth: [] }]
export const clientOrBearer: Security = [{ clientBasic: [] }, { bearerAuth: [] }]
export const bearerOrSession: Security = [{ bearerAuth: [] }, { sessionCookie: [] }]
