/**
 * The OpenAPI description of registration, /auth/me and the password change (routes.ts, register-page-routes.ts): these routes are plain Hono
 * handlers that parse their own input; this says what they accept and answer (admin/routes.ts
 * assembles the document, test/e2e/admin-http.test.ts checks it against the running gateway).
 */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearer,
  describeOperation,
  error,
  html,
  JSON_OR_FORM,
  json,
  Me,
  TokenResponse,
} from '../admin'

export function describeAccountEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
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
}
