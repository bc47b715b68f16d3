/**
 * The authorization server's endpoints in the OpenAPI document: /auth/authorize and its consent
 * form, UserInfo, the user's consent grants, and RP-initiated logout. Their handlers are plain Hono
 * routes (authorize-routes.ts, userinfo-routes.ts, end-session-routes.ts); each status below is one they answer,
 * and test/e2e/admin-openapi-cases-browser.ts walks them against the running gateway.
 */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearer,
  describeOperation,
  ErrorBody,
  error,
  FORM,
  html,
  json,
  named,
  type ResponseSpec,
  redirect,
  type Security,
} from '../admin'

const epochSeconds = z.number().check(z.int(), z.describe('Unix time, seconds'))
const text = (description: string) => z.string().check(z.describe(description))
const optionalText = (description: string) => z.optional(text(description))

const UserInfo = named(
  'UserInfo',
  z.object({
    sub: text("The user's id"),
    preferred_username: z.string(),
    roles: z.array(z.string()),
  }),
)

const OwnGrant = named(
  'OwnGrant',
  z.object({
    client_id: z.string(),
    client_name: text('The client_id when the app has no name'),
    scopes: z.array(z.string()),
    roles: z.array(z.string()).check(z.describe('Roles the user let the app act with')),
    created_at: epochSeconds,
    updated_at: epochSeconds,
  }),
)

/** An HTML page, or the gateway's JSON error when the body could not be read as a form. */
function pageOrError(description: string): ResponseSpec {
  return { ...html(description), alternatives: { 'application/json': ErrorBody } }
}

const AuthorizeQuery = z.object({
  response_type: z.literal('code'),
  client_id: z.string(),
  redirect_uri: text('Exactly a registered one (loopback IPs: any port)'),
  code_challenge: text('PKCE: BASE64URL(SHA-256(code_verifier))'),
  code_challenge_method: z.literal('S256'),
  state: optionalText('Returned unchanged with the code'),
  scope: optionalText('Space-separated; `openid` adds an id_token at the token endpoint'),
  nonce: optionalText('Copied into the id_token'),
  prompt: optionalText('`none`, or `login` and/or `consent`'),
  max_age: optionalText('Seconds since the last sign-in, else sign in again'),
  login_hint: optionalText('Prefills the login form'),
})

const SESSION: Security = [{ sessionCookie: [] }]
/** `{}`: the request is also served without credentials. */
const SIGNED_IN_OR_NOT: Security = [{ sessionCookie: [] }, {}]

const EndSessionFields = {
  id_token_hint: optionalText('An ID token we issued (expired ones too); names the user and the app'),
  client_id: optionalText('The app, when there is no id_token_hint'),
  post_logout_redirect_uri: optionalText("One of the app's registered post-logout redirect URIs"),
  state: optionalText('Appended to post_logout_redirect_uri'),
}

function registerAuthorize(tags: string[]): void {
  describeOperation({
    method: 'get',
    path: '/auth/authorize',
    tags,
    summary: 'Authorization endpoint (authorization code + PKCE S256, OpenID Connect)',
    description:
      'Not signed in: 302 to the login page and back. Signed in without a covering grant: the consent ' +
      'page. An invalid client or redirect_uri: an HTML error page, never a redirect.',
    security: SESSION,
    query: AuthorizeQuery,
    responses: {
      200: html('The consent page'),
      302: redirect('To redirect_uri with code, state and iss (or error), or to the login page'),
      400: html('The client or redirect_uri is not valid: an error page'),
    },
  })
  describeOperation({
    method: 'post',
    path: '/auth/authorize',
    tags,
    summary: "The consent page's answer (form; CSRF token and same-origin required)",
    security: SESSION,
    bodyTypes: FORM,
    body: z.object({
      csrf: z.string(),
      decision: z.enum(['allow', 'deny']),
      authorization_query: text('The authorization request, as the consent page received it'),
    }),
    responses: {
      303: redirect('To redirect_uri with code, state and iss, or error=access_denied'),
      400: pageOrError('No decision, or the authorization request is no longer valid'),
      403: html('Not signed in, form expired, or cross-site'),
    },
  })
}

function registerUserInfo(tags: string[]): void {
  for (const method of ['get', 'post'] as const) {
    describeOperation({
      method,
      path: '/auth/userinfo',
      tags,
      summary: 'OpenID Connect UserInfo: the current user, for an access token with scope openid',
      security: bearer,
      responses: {
        200: json(UserInfo, 'Claims about the user (current values, not the token copy)'),
        401: error('No valid access token, or its user is disabled or gone (`invalid_token`)'),
        403: error('The token lacks scope openid (`insufficient_scope`)'),
      },
    })
  }
}

function registerGrants(tags: string[]): void {
  describeOperation({
    method: 'get',
    path: '/auth/grants',
    tags,
    summary: 'The apps you consented to (your own token only: an app cannot read them)',
    security: bearer,
    responses: {
      200: json(z.object({ grants: z.array(OwnGrant) }), 'Grants'),
      401: error('No valid access token'),
      403: appTokenRefused(),
    },
  })
  describeOperation({
    method: 'delete',
    path: '/auth/grants/{client_id}',
    tags,
    summary: "Withdraw consent from an app; ends that app's sessions and tokens",
    security: bearer,
    params: z.object({ client_id: z.string() }),
    responses: {
      204: { description: 'Withdrawn' },
      401: error('No valid access token'),
      403: appTokenRefused(),
      404: error('No grant for that app'),
    },
  })
}

function registerEndSession(tags: string[]): void {
  describeOperation({
    method: 'get',
    path: '/auth/end-session',
    tags,
    summary: 'OpenID Connect RP-initiated logout',
    description:
      'Ends the browser session at once when id_token_hint names its user (or there is none); otherwise the signed-in user confirms on a page. Then 303 to the registered post_logout_redirect_uri with state, or to the login page.',
    security: SIGNED_IN_OR_NOT,
    query: z.object(EndSessionFields),
    responses: {
      200: html('Sign out? (confirmation page)'),
      303: redirect('Signed out: to post_logout_redirect_uri or the login page'),
      400: html('Not our id_token_hint, or an unregistered post_logout_redirect_uri: an error page'),
    },
  })
  describeOperation({
    method: 'post',
    path: '/auth/end-session',
    tags,
    summary: "The sign-out confirmation page's form (CSRF token and same-origin required when signed in)",
    security: SIGNED_IN_OR_NOT,
    bodyTypes: FORM,
    body: z.object({ csrf: optionalText('Required with a session'), ...EndSessionFields }),
    responses: {
      303: redirect('Signed out: to post_logout_redirect_uri or the login page'),
      400: pageOrError('An invalid request: an error page (JSON when the body is not a form)'),
      403: html('Form expired or cross-site'),
    },
  })
}

/** Declares /auth/authorize, /auth/userinfo, /auth/grants and /auth/end-session. */
export function describeAuthorizationEndpoints(): void {
  const tags = ['Auth: authorization server']
  registerAuthorize(tags)
  registerUserInfo(tags)
  registerGrants(tags)
  registerEndSession(tags)
}
