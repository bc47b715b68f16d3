/**
 * The OpenAPI description of POST /auth/clients (registration-routes.ts), RFC 7591 dynamic client
 * registration: a plain Hono handler that parses its own input; this says what it accepts and
 * answers (admin/routes.ts assembles the document, test/e2e/admin-http.test.ts checks it).
 */
import * as z from 'zod/mini'
import { describeOperation, error, GRANT_TYPES, integer, json, named } from '../admin'
import { MAX_CLIENT_NAME_LENGTH } from './client-registration'

const AUTH_METHOD = z.enum(['none', 'client_secret_basic', 'client_secret_post'])

const RegisteredClient = named(
  'RegisteredClient',
  z.object({
    client_id: z.string(),
    client_id_issued_at: integer(),
    redirect_uris: z.array(z.string()),
    token_endpoint_auth_method: AUTH_METHOD,
    grant_types: z.array(z.enum(GRANT_TYPES)),
    response_types: z.array(z.literal('code')),
    scope: z.string(),
    client_name: z.optional(z.string()),
    client_secret: z.optional(z.string()).check(z.describe('Only for a confidential client, only here')),
    client_secret_expires_at: z.optional(z.literal(0)),
  }),
)

export function describeRegistrationEndpoint(): void {
  describeOperation({
    method: 'post',
    path: '/auth/clients',
    tags: ['Auth'],
    summary: 'RFC 7591 dynamic client registration (when SETTINGS.dynamic_client_registration is on)',
    description:
      'No credentials; CORS for any origin. A self-registered client is public (PKCE) unless ' +
      'SETTINGS.dynamic_clients.allow_confidential; first_party, skip_consent, allowed_roles and ' +
      'allowed_origins are refused (invalid_client_metadata); other unknown metadata is ignored. ' +
      'Throttled per client address; deleted when no code is issued for it within ' +
      'SETTINGS.dynamic_clients.unused_expiry_hours.',
    body: z.object({
      redirect_uris: z.array(z.string()),
      client_name: z.optional(z.string().check(z.maxLength(MAX_CLIENT_NAME_LENGTH))),
      token_endpoint_auth_method: z.optional(AUTH_METHOD),
      grant_types: z.optional(z.array(z.enum(['authorization_code', 'refresh_token']))),
      response_types: z.optional(z.array(z.literal('code'))),
      scope: z.optional(z.string()),
    }),
    responses: {
      201: json(RegisteredClient, 'Registered (Cache-Control: no-store)'),
      400: error('RFC 7591 §3.2.2: invalid_redirect_uri or invalid_client_metadata'),
      403: error('registration_disabled'),
      413: error('Body too large'),
      429: error('Throttled (Retry-After)'),
    },
  })
}
