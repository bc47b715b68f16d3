/**
 * The OpenAPI description of registration, /auth/me, the password change and the account home
 * (routes.ts, register-page-routes.ts, account-home-routes.ts): these routes are plain Hono
 * handlers that parse their own input; this says what they accept and answer (admin/routes.ts
 * assembles the document, test/e2e/admin-http.test.ts checks it against the running gateway).
 */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearer,
  describeOperation,
  error,
  FORM,
  html,
  JSON_OR_FORM,
  json,
  Me,
  redirect,
  type Security,
  TokenResponse,
} from '../admin'

const sessionCookie: Security = [{ sessionCookie: [] }]

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
  path({
    method: 'get',
    path: '/auth/account',
    tags,
    summary:
      'The account home (HTML): who you are, this sign-in, apps, API keys; where a sign-in without return_to lands',
    security: sessionCookie,
    responses: {
      200: html('The page'),
      302: redirect('No live session: to the login page, return_to=/auth/account'),
      401: error('No session (a request that did not ask for HTML)'),
    },
  })
  path({
    method: 'post',
    path: '/auth/account/grants/{client_id}/revoke',
    tags,
    summary: "Withdraw an app's access (the account page's form; DELETE /auth/grants/{client_id} for tokens)",
    security: sessionCookie,
    params: z.object({ client_id: z.string() }),
    bodyTypes: FORM,
    body: z.object({ csrf: z.string() }),
    responses: {
      303: redirect('Withdrawn: back to the account page'),
      401: error('No valid session'),
      403: error('csrf_failed: the form token is missing or wrong, or the request is cross-site'),
      404: error('No such grant'),
    },
  })
  path({
    method: 'post',
    path: '/auth/account/email',
    tags,
    summary:
      "Change or add the email address (the account page's form); it changes once the mailed link is confirmed",
    description:
      'Mails a confirmation link to the new address and a notice to the old one. Needs a sign-in within `factor_change_max_auth_age_seconds`; an older one is sent to the login page. ' +
      'The answer is the same whether or not another account holds the address; one held verified gets no ' +
      "confirmation link, its holder is mailed that someone tried. Ends the user's live emailed tokens (a " +
      'pending reset link). Throttled per address and per client address like forgot-password.',
    security: sessionCookie,
    bodyTypes: FORM,
    body: z.object({ csrf: z.string(), email: z.string() }),
    responses: {
      200: html('The account page, saying where the link went (or that it already is the address)'),
      303: redirect('The sign-in is not recent enough: to the login page, return_to=/auth/account'),
      400: html('Not an email address'),
      401: error('No valid session'),
      403: error('csrf_failed: the form token is missing or wrong, or the request is cross-site'),
      429: html('Too many mails asked for (Retry-After)'),
    },
  })
  path({
    method: 'post',
    path: '/auth/account/email/verification',
    tags,
    summary: "Mail the verification link of the unverified address again (the account page's button)",
    description:
      'Replaces the earlier link. Throttled per address and per client address; audited as email_verification_sent.',
    security: sessionCookie,
    bodyTypes: FORM,
    body: z.object({ csrf: z.string() }),
    responses: {
      200: html('The account page, saying the link is on its way'),
      303: redirect('The session ended: to the login page'),
      400: html('The account has no unverified address'),
      401: error('No valid session'),
      403: error('csrf_failed: the form token is missing or wrong, or the request is cross-site'),
      429: html('Too many mails asked for (Retry-After)'),
    },
  })
}
