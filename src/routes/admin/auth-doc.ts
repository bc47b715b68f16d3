/**
 * The gateway's /auth endpoints in the OpenAPI document. Their handlers are plain Hono routes that
 * parse forms and JSON themselves (src/routes/*.ts); these schemas describe what they accept and
 * answer, and test/e2e/openapi.test.ts checks every one against the running gateway.
 */
import * as z from 'zod'
import { describeOperation, named, type ResponseSpec } from './openapi'
import { ErrorBody, Session } from './schemas'

const TokenResponse = named(
  'TokenResponse',
  z.object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string().optional(),
    scope: z.string(),
  }),
)

const OwnApiKey = named(
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

const Me = named(
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

const Introspection = named(
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

const FORM = ['application/x-www-form-urlencoded']
const JSON_OR_FORM = ['application/json', 'application/x-www-form-urlencoded']
const json = (schema: z.ZodType, description: string): ResponseSpec => ({ description, schema })
const html = (description: string): ResponseSpec => ({
  description,
  schema: z.string(),
  contentType: 'text/html',
})
const CreatedApiKey = named(
  'CreatedApiKey',
  OwnApiKey.pick({ id: true, name: true, scopes: true, roles: true, expires_at: true }).extend({
    key: z.string(),
  }),
)
const error = (description: string) => json(ErrorBody, description)
const redirect = (description: string): ResponseSpec => ({ description })
const IdParam = z.object({ id: z.string() })

type Security = Record<string, string[]>[]
const bearer: Security = [{ bearerAuth: [] }]
const clientOrBearer: Security = [{ clientBasic: [] }, { bearerAuth: [] }]
const bearerOrSession: Security = [{ bearerAuth: [] }, { sessionCookie: [] }]

/** Declares every /auth endpoint (paths and schemas only; the handlers are in src/routes). */
export function registerAuthEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
  path({
    method: 'post',
    path: '/auth/token',
    tags,
    summary: 'OAuth 2.0 token endpoint (password, refresh_token, client_credentials)',
    bodyTypes: FORM,
    body: z.object({
      grant_type: z.enum(['password', 'refresh_token', 'client_credentials']),
      username: z.string().optional(),
      password: z.string().optional(),
      refresh_token: z.string().optional(),
      scope: z.string().optional(),
      client_id: z.string().optional(),
      client_secret: z.string().optional(),
    }),
    responses: {
      200: json(TokenResponse, 'Tokens (Cache-Control: no-store)'),
      400: error('RFC 6749 §5.2 error'),
      401: error('invalid_client'),
      429: error('Throttled (Retry-After)'),
    },
  })
  path({
    method: 'post',
    path: '/auth/register',
    tags,
    summary: 'Register (when SETTINGS.registration is on)',
    bodyTypes: JSON_OR_FORM,
    body: z.object({ username: z.string(), password: z.string() }),
    responses: {
      201: json(z.object({ id: z.string(), username: z.string() }), 'Created'),
      400: error('Invalid username or weak password'),
      403: error('registration_disabled'),
      409: error('Username taken'),
    },
  })
  path({
    method: 'get',
    path: '/auth/register',
    tags,
    summary: 'Registration form',
    responses: { 200: html('The form') },
  })
  path({
    method: 'post',
    path: '/auth/revoke',
    tags,
    summary: 'RFC 7009 token revocation',
    security: clientOrBearer,
    bodyTypes: FORM,
    body: z.object({ token: z.string(), token_type_hint: z.string().optional() }),
    responses: {
      200: { description: 'Revoked, or nothing to revoke' },
      400: error('No token'),
      401: error('invalid_client'),
    },
  })
  path({
    method: 'post',
    path: '/auth/introspect',
    tags,
    summary: 'RFC 7662 introspection (a confidential client or an admin)',
    security: clientOrBearer,
    bodyTypes: FORM,
    body: z.object({ token: z.string() }),
    responses: {
      200: json(Introspection, 'Token state'),
      400: error('No token'),
      401: error('invalid_client'),
    },
  })
  path({
    method: 'get',
    path: '/auth/me',
    tags,
    summary: 'The current principal',
    security: [{ bearerAuth: [] }, { apiKey: [] }, { sessionCookie: [] }],
    responses: { 200: json(Me, 'Who is calling'), 401: error('No valid credentials') },
  })
  path({
    method: 'post',
    path: '/auth/password',
    tags,
    summary: 'Change own password (ends every other session; returns new tokens)',
    security: bearer,
    bodyTypes: JSON_OR_FORM,
    body: z.object({ current_password: z.string(), new_password: z.string() }),
    responses: {
      200: json(TokenResponse, 'New tokens'),
      400: error('Weak password'),
      401: error('Wrong password'),
    },
  })
  path({
    method: 'post',
    path: '/auth/api-keys',
    tags,
    summary: 'Create an API key (needs a recent login)',
    security: bearer,
    bodyTypes: JSON_OR_FORM,
    body: z.object({
      name: z.string(),
      scopes: z.array(z.string()).optional(),
      roles: z.array(z.string()).optional(),
      expires_in: z.number().int().optional(),
    }),
    responses: {
      201: json(CreatedApiKey, 'The key, shown only here'),
      400: error('Invalid request'),
      401: error('No valid token, or authentication too old'),
    },
  })
  path({
    method: 'get',
    path: '/auth/api-keys',
    tags,
    summary: 'Own API keys (never the key)',
    security: bearer,
    responses: {
      200: json(z.object({ api_keys: z.array(OwnApiKey) }), 'Keys'),
      401: error('No valid token'),
    },
  })
  path({
    method: 'delete',
    path: '/auth/api-keys/{id}',
    tags,
    summary: 'Revoke an own API key',
    security: bearer,
    params: IdParam,
    responses: { 204: { description: 'Revoked' }, 401: error('No valid token'), 404: error('No such key') },
  })
  path({
    method: 'post',
    path: '/auth/logout',
    tags,
    summary: 'End this session (bearer: 204; browser session: clears the cookie, 303 to login)',
    security: bearerOrSession,
    responses: {
      204: { description: 'Ended' },
      303: redirect('Browser: to the login page'),
      401: error('No valid token'),
    },
  })
  path({
    method: 'post',
    path: '/auth/logout-all',
    tags,
    summary: 'End every session and token of the caller',
    security: bearerOrSession,
    responses: {
      204: { description: 'Ended' },
      303: redirect('Browser: to the login page'),
      401: error('No valid credentials'),
    },
  })
  path({
    method: 'get',
    path: '/auth/login',
    tags,
    summary: 'Login form',
    responses: { 200: html('The form') },
  })
  path({
    method: 'post',
    path: '/auth/login',
    tags,
    summary: 'Browser login (form; CSRF token and same-origin required)',
    bodyTypes: FORM,
    body: z.object({
      username: z.string(),
      password: z.string(),
      csrf: z.string(),
      return_to: z.string().optional(),
      remember: z.string().optional(),
    }),
    responses: {
      303: redirect('Signed in: to return_to, with the session cookie'),
      401: html('Wrong credentials'),
      403: html('Form expired or cross-site'),
      429: html('Throttled'),
    },
  })
  path({
    method: 'get',
    path: '/auth/sessions',
    tags,
    summary: "The caller's browser sessions (JSON, or HTML for browsers)",
    security: bearerOrSession,
    responses: {
      200: json(z.object({ items: z.array(Session.extend({ current: z.boolean() })) }), 'Sessions'),
      401: error('No valid credentials'),
    },
  })
  path({
    method: 'delete',
    path: '/auth/sessions/{id}',
    tags,
    summary: 'End one of your sessions',
    security: bearerOrSession,
    params: IdParam,
    responses: {
      204: { description: 'Ended' },
      401: error('No valid credentials'),
      404: error('No such session'),
    },
  })
  path({
    method: 'post',
    path: '/auth/sessions/{id}/end',
    tags,
    summary: 'End one of your sessions (HTML form version of DELETE)',
    security: bearerOrSession,
    params: IdParam,
    responses: {
      303: redirect('Back to the sessions page'),
      401: error('No valid credentials'),
      404: error('No such session'),
    },
  })
  path({
    method: 'get',
    path: '/auth/assets/gateway.css',
    tags,
    summary: "The pages' stylesheet",
    responses: { 200: { description: 'CSS', schema: z.string(), contentType: 'text/css' } },
  })
}
