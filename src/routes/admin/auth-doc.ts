/**
 * The gateway's /auth endpoints in the OpenAPI document. Their handlers are plain Hono routes that
 * parse forms and JSON themselves (src/routes/*.ts); these schemas describe what they accept and
 * answer, and test/e2e/admin-http.test.ts checks every one against the running gateway.
 */
import * as z from 'zod/mini'
import { registerBrowserEndpoints } from './auth-doc-browser'
import {
  appTokenRefused,
  bearer,
  CreatedApiKey,
  clientOrBearer,
  error,
  FORM,
  html,
  IdParam,
  Introspection,
  JSON_OR_FORM,
  json,
  Me,
  OwnApiKey,
  TokenResponse,
} from './auth-schemas'
import { describeOperation } from './openapi'
import { GRANT_TYPES, integer } from './schemas'

/** Declares every /auth endpoint (paths and schemas only; the handlers are in src/routes). */
export function registerAuthEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
  registerBrowserEndpoints()
  path({
    method: 'post',
    path: '/auth/token',
    tags,
    summary: 'OAuth 2.0 token endpoint (password, refresh_token, client_credentials, authorization_code)',
    description:
      'authorization_code (PKCE S256): code, redirect_uri and code_verifier, with client_id (public) or ' +
      'client authentication; scope openid adds an id_token.',
    bodyTypes: FORM,
    body: z.object({
      grant_type: z.enum(GRANT_TYPES),
      code: z.optional(z.string()),
      redirect_uri: z.optional(z.string()),
      code_verifier: z.optional(z.string()),
      username: z.optional(z.string()),
      password: z.optional(z.string()),
      refresh_token: z.optional(z.string()),
      scope: z.optional(z.string()),
      client_id: z.optional(z.string()),
      client_secret: z.optional(z.string()),
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
    body: z.object({ token: z.string(), token_type_hint: z.optional(z.string()) }),
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
      403: appTokenRefused(),
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
      scopes: z.optional(z.array(z.string())),
      roles: z.optional(z.array(z.string())),
      expires_in: z.optional(integer()),
    }),
    responses: {
      201: json(CreatedApiKey, 'The key, shown only here'),
      400: error('Invalid request'),
      401: error('No valid token, or authentication too old'),
      403: appTokenRefused(),
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
      403: appTokenRefused(),
    },
  })
  path({
    method: 'delete',
    path: '/auth/api-keys/{id}',
    tags,
    summary: 'Revoke an own API key',
    security: bearer,
    params: IdParam,
    responses: {
      204: { description: 'Revoked' },
      401: error('No valid token'),
      403: appTokenRefused(),
      404: error('No such key'),
    },
  })
}
