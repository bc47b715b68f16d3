/**
 * The OpenAPI description of the own-keys endpoints (routes.ts): these routes are plain Hono
 * handlers that parse their own input; this says what they accept and answer (admin/routes.ts
 * assembles the document, test/e2e/admin-http.test.ts checks it against the running gateway).
 */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearer,
  CreatedOwnApiKey,
  describeOperation,
  error,
  IdParam,
  integer,
  JSON_OR_FORM,
  json,
  OwnApiKey,
} from '../admin'

export function describeApiKeyEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
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
      201: json(CreatedOwnApiKey, 'The key, shown only here'),
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
