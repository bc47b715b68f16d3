/**
 * The OpenAPI description of RFC 7009 revocation and RFC 7662 introspection (routes.ts): these routes are plain Hono
 * handlers that parse their own input; this says what they accept and answer (admin/routes.ts
 * assembles the document, test/e2e/admin-http.test.ts checks it against the running gateway).
 */
import * as z from 'zod/mini'
import { clientOrBearer, describeOperation, error, FORM, Introspection, json } from '../admin'

export function describeRevocationEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
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
}
