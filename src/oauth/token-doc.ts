/**
 * The OpenAPI description of POST /auth/token (token-routes.ts): these routes are plain Hono
 * handlers that parse their own input; this says what they accept and answer (admin/routes.ts
 * assembles the document, test/e2e/admin-http.test.ts checks it against the running gateway).
 */
import * as z from 'zod/mini'
import { describeOperation, error, FORM, GRANT_TYPES, json, TokenResponse } from '../admin'

export function describeTokenEndpoint(): void {
  const tags = ['Auth']
  const path = describeOperation
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
}
