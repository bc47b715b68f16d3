/** The second-factor pages (routes.ts, setup-routes.ts) in the OpenAPI document. */
import * as z from 'zod/mini'
import { describeOperation, error, FORM, html, redirect, type Security } from '../admin'

const sessionCookie: Security = [{ sessionCookie: [] }]
const tags = ['Auth']
const csrfForm = z.object({ csrf: z.string() })

export function describeSecondFactorEndpoints(): void {
  const path = describeOperation
  path({
    method: 'get',
    path: '/auth/second-factor',
    tags,
    summary:
      'The second step (HTML): after a password or provider sign-in of a user with a second factor (the pending sign-in cookie), or a step-up of a signed-in session',
    responses: {
      200: html('The code form'),
      302: redirect('Neither a pending sign-in nor a session: to login'),
    },
  })
  path({
    method: 'post',
    path: '/auth/second-factor',
    tags,
    summary:
      'Check a TOTP code or a recovery code (form; CSRF token and same-origin required); success starts the session with amr otp + the first factor',
    bodyTypes: FORM,
    body: z.object({
      csrf: z.string(),
      code: z.optional(z.string().check(z.describe('Six digits from the authenticator app'))),
      recovery_code: z.optional(z.string().check(z.describe('One unused recovery code'))),
      return_to: z.optional(z.string()),
    }),
    responses: {
      303: redirect('Verified: to return_to with a new session cookie; or no pending sign-in: to login'),
      400: html('Malformed code'),
      401: html('Wrong or already used code'),
      403: html('Form expired or cross-site'),
      429: html('Too many attempts (Retry-After)'),
      503: error('DATA_KEYS missing or invalid (`gateway_misconfigured`)'),
    },
  })
  path({
    method: 'get',
    path: '/auth/second-factor/setup',
    tags,
    summary:
      'Set up an authenticator app (HTML: QR code, the secret as text, the first-code form), or manage the one set up; needs a recent sign-in',
    security: sessionCookie,
    responses: {
      200: html('The page'),
      302: redirect('No session, or a sign-in older than factor_change_max_auth_age_seconds: to login'),
      503: error('DATA_KEYS missing or invalid (`gateway_misconfigured`)'),
    },
  })
  path({
    method: 'post',
    path: '/auth/second-factor/setup',
    tags,
    summary: 'Confirm the authenticator app with its first code; shows the ten recovery codes once',
    security: sessionCookie,
    bodyTypes: FORM,
    body: z.object({ csrf: z.string(), enrolment: z.string(), code: z.string() }),
    responses: {
      200: html('On: the recovery codes'),
      303: redirect('Sign-in not recent: to login'),
      400: html('Malformed code or expired form'),
      401: html('Wrong code'),
      403: error('csrf_failed'),
      409: error('An authenticator app is already set up'),
      429: error('Too many attempts'),
      503: error('DATA_KEYS missing or invalid (`gateway_misconfigured`)'),
    },
  })
  path({
    method: 'post',
    path: '/auth/second-factor/recovery-codes',
    tags,
    summary: 'Replace the recovery codes (shown once); needs a recent sign-in',
    security: sessionCookie,
    bodyTypes: FORM,
    body: csrfForm,
    responses: {
      200: html('The new codes'),
      303: redirect('Sign-in not recent: to login'),
      403: error('csrf_failed'),
      404: error('No authenticator app'),
    },
  })
  path({
    method: 'post',
    path: '/auth/second-factor/remove',
    tags,
    summary:
      'Remove the authenticator app and its recovery codes (the second step stays on only while a passkey remains); needs a recent sign-in',
    security: sessionCookie,
    bodyTypes: FORM,
    body: csrfForm,
    responses: {
      303: redirect('Removed: to the account page; or sign-in not recent: to login'),
      403: error('csrf_failed'),
      404: error('No authenticator app'),
    },
  })
}
