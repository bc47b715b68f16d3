/** The /auth/passkeys endpoints in the OpenAPI document. */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearerOrSession,
  describeOperation,
  error,
  IdParam,
  json,
  named,
  redirect,
} from '../admin'
import { PasskeySchema } from './schemas'

const UNAVAILABLE =
  'Invalid request, or `passkeys_unavailable`: ISSUER is an IP address, which cannot be an RP ID'

export function describePasskeyEndpoints(): void {
  const tags = ['Auth: passkeys']
  const path = describeOperation
  const Passkey = named('Passkey', PasskeySchema)
  const credential = z.looseObject({ id: z.string(), rawId: z.string(), type: z.literal('public-key') })
  const options = z.looseObject({ challenge: z.string() })
  const signedInErrors = { 401: error('No valid credentials'), 403: appTokenRefused() }
  path({
    method: 'get',
    path: '/auth/passkeys',
    tags,
    summary: "The caller's passkeys (JSON, or the HTML page for browsers)",
    security: bearerOrSession,
    responses: {
      200: json(z.object({ items: z.array(Passkey) }), 'Passkeys (HTML for browsers)'),
      ...signedInErrors,
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys/registration-options',
    tags,
    summary: 'Start registering a passkey: WebAuthn creation options (needs a recent sign-in)',
    description:
      'Sets the challenge-binding cookie; the challenge is single use, bound to this browser, valid 5 minutes.',
    security: bearerOrSession,
    responses: {
      200: json(options, 'PublicKeyCredentialCreationOptionsJSON'),
      400: error(UNAVAILABLE),
      401: error('No valid credentials, or `insufficient_user_authentication`: sign in again'),
      403: appTokenRefused(),
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys',
    tags,
    summary: 'Finish registering a passkey: `{name, credential}` (RegistrationResponseJSON)',
    security: bearerOrSession,
    body: z.object({ name: z.optional(z.string()), credential }),
    responses: {
      201: json(Passkey, 'The new passkey'),
      400: error(`The ceremony was refused (reason in the description). ${UNAVAILABLE}`),
      401: error('No valid credentials, or `insufficient_user_authentication`: sign in again'),
      403: appTokenRefused(),
      409: error('This credential is registered already'),
    },
  })
  path({
    method: 'patch',
    path: '/auth/passkeys/{id}',
    tags,
    summary: 'Rename one of your passkeys: `{name}`',
    security: bearerOrSession,
    params: IdParam,
    body: z.object({ name: z.string() }),
    responses: { 204: { description: 'Renamed' }, ...signedInErrors, 404: error('No such passkey') },
  })
  path({
    method: 'delete',
    path: '/auth/passkeys/{id}',
    tags,
    summary: 'Delete one of your passkeys',
    security: bearerOrSession,
    params: IdParam,
    responses: {
      204: { description: 'Deleted' },
      ...signedInErrors,
      404: error('No such passkey'),
      409: error('The last way to sign in: no password, no linked provider, no other passkey'),
    },
  })
  const formVersion = { method: 'post', tags, security: bearerOrSession, params: IdParam } as const
  path({
    ...formVersion,
    path: '/auth/passkeys/{id}/rename',
    summary: 'Rename a passkey (HTML form version of PATCH)',
    responses: {
      303: redirect('Back to the passkeys page'),
      ...signedInErrors,
      404: error('No such passkey'),
    },
  })
  path({
    ...formVersion,
    path: '/auth/passkeys/{id}/delete',
    summary: 'Delete a passkey (HTML form version of DELETE)',
    responses: {
      303: redirect('Back to the passkeys page'),
      ...signedInErrors,
      404: error('No such passkey'),
      409: error('The last way to sign in'),
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys/authentication-options',
    tags,
    summary: 'Start a passkey sign-in: WebAuthn request options for discoverable credentials',
    description: "`{csrf}`: the login form's CSRF token; same-origin only (login CSRF, as POST /auth/login).",
    body: z.object({ csrf: z.string() }),
    responses: {
      200: json(options, 'PublicKeyCredentialRequestOptionsJSON'),
      400: error(UNAVAILABLE),
      403: error('`csrf_failed`: the form expired or the request came from another site'),
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys/authentication',
    tags,
    summary: 'Sign in with a passkey: `{csrf, return_to, remember, credential}` (AuthenticationResponseJSON)',
    description:
      'Sets the session cookie and answers where to go (`return_to`, validated as for POST /auth/login). amr: `swk` (synced) or `hwk`, `user`, `mfa`.',
    body: z.object({
      csrf: z.string(),
      return_to: z.optional(z.string()),
      remember: z.optional(z.string()),
      credential,
    }),
    responses: {
      200: json(z.object({ redirect: z.string() }), 'Signed in'),
      400: error(UNAVAILABLE),
      401: error('The passkey was refused (reason in the description)'),
      403: error('`csrf_failed`: the form expired or the request came from another site'),
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys/second-factor-options',
    tags,
    summary: 'Start the passkey as the second step: WebAuthn request options',
    description:
      "`{csrf, return_to}` from the second-factor page: a pending sign-in (the login form's CSRF token) or a signed-in session stepping up (the session's CSRF token). Never a bearer token.",
    body: z.object({ csrf: z.string(), return_to: z.optional(z.string()) }),
    responses: {
      200: json(options, 'PublicKeyCredentialRequestOptionsJSON'),
      400: error(UNAVAILABLE),
      401: error('`invalid_credentials`: no pending sign-in and no session (sign in again)'),
      403: error('`csrf_failed`: the form expired or the request came from another site'),
    },
  })
  path({
    method: 'post',
    path: '/auth/passkeys/second-factor',
    tags,
    summary: 'Finish the second step with a passkey: `{csrf, return_to, credential}`',
    description:
      'The passkey must belong to the user at this step. Starts the session (pending sign-in) or replaces it (step-up) with both factors in `amr`, and answers where to go.',
    body: z.object({ csrf: z.string(), return_to: z.optional(z.string()), credential }),
    responses: {
      200: json(z.object({ redirect: z.string() }), 'Signed in with both factors'),
      400: error(UNAVAILABLE),
      401: error('The passkey was refused, belongs to another account, or the sign-in expired'),
      403: error('`csrf_failed`: the form expired or the request came from another site'),
    },
  })
}
