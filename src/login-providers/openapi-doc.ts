/**
 * External login providers and the caller's linked identities in the OpenAPI document. Their
 * handlers are plain Hono routes (routes.ts, identities-routes.ts). Every failure of a
 * provider sign-in ends on the login page with a message, so those statuses are HTML; the
 * identity endpoints answer JSON (the list also as a page for browsers).
 */
import * as z from 'zod/mini'
import {
  APP_TOKEN_REFUSED,
  appTokenRefused,
  describeOperation,
  error,
  FORM,
  html,
  named,
  type ResponseSpec,
  redirect,
  type Security,
} from '../admin'

const epochSeconds = z.number().check(z.int(), z.describe('Unix time, seconds'))
const optionalText = (description: string) => z.optional(z.string().check(z.describe(description)))

const OwnIdentity = named(
  'OwnIdentity',
  z.object({
    provider: z.string(),
    display_name: z.string(),
    account: z.string().check(z.describe("The provider's login or email, as it last said")),
    created_at: epochSeconds,
    last_login_at: z.nullable(epochSeconds),
  }),
)

const Provider = z.object({
  provider: z.string().check(z.describe('A configured LOGIN_PROVIDERS name')),
})

const JWT_OR_SESSION: Security = [{ bearerAuth: [] }, { sessionCookie: [] }]
const SESSION: Security = [{ sessionCookie: [] }]
const page = (description: string) => html(`The login page: ${description}`)

/** JSON for API callers, the gateway's error page for browsers (Accept: text/html). */
function errorOrPage(description: string): ResponseSpec {
  return { ...error(description), alternatives: { 'text/html': z.string() } }
}

function registerProviderLogin(tags: string[]): void {
  describeOperation({
    method: 'get',
    path: '/auth/login/{provider}',
    tags,
    summary: 'Sign in with an external provider',
    description:
      'Never links: linking starts only from POST /auth/login/{provider}/link. The old `link` ' +
      'parameter is refused (403), because a signed-in browser can be made to send any GET.',
    params: Provider,
    query: z.object({
      return_to: optionalText('A path on this origin to land on afterwards'),
      link: optionalText('No longer accepted: present, the request is refused with 403'),
    }),
    responses: {
      302: redirect("To the provider's authorization endpoint (state, PKCE S256, nonce)"),
      403: page("`link` given: linking starts from the account page's form"),
      404: page('no such provider'),
      502: page('the provider cannot be reached'),
      503: page('the provider is not fully configured (e.g. its client secret is missing)'),
    },
  })
  describeOperation({
    method: 'post',
    path: '/auth/login/{provider}/link',
    tags,
    summary: "Link the provider to the signed-in user (the account page's form)",
    description:
      "The form of GET /auth/identities: the session cookie, the session's CSRF token in `csrf` and " +
      'a same-origin request are all required. Returns to /auth/identities once the provider answers.',
    security: SESSION,
    params: Provider,
    bodyTypes: FORM,
    body: z.object({
      csrf: z.string().check(z.describe("The session's CSRF token, as the page carries it")),
    }),
    responses: {
      303: redirect("To the provider's authorization endpoint (state, PKCE S256, nonce)"),
      403: page('no live session, a missing or wrong `csrf`, or a cross-site request'),
      404: page('no such provider'),
      502: page('the provider cannot be reached'),
      503: page('the provider is not fully configured (e.g. its client secret is missing)'),
    },
  })
  describeOperation({
    method: 'get',
    path: '/auth/callback/{provider}',
    tags,
    summary: "The provider's redirect back: session cookie and 303 to return_to",
    params: Provider,
    query: z.object({
      code: optionalText("The provider's authorization code"),
      state: optionalText('The state the sign-in started with'),
      iss: optionalText('RFC 9207 issuer (OpenID Connect providers)'),
      error: optionalText('The provider refused or the user cancelled'),
    }),
    responses: {
      303: redirect('Signed in: to return_to with the session cookie; linked: to /auth/identities'),
      400: page('no, expired, reused or foreign state (or a flow started in another browser)'),
      403: page('cancelled, not allowed, no linked account, or account disabled'),
      404: page('no such provider'),
      409: page('this provider account is linked to another user'),
      502: page('the provider failed or its answer could not be verified'),
      503: page('the provider is not fully configured'),
    },
  })
}

function registerIdentities(tags: string[]): void {
  describeOperation({
    method: 'get',
    path: '/auth/identities',
    tags,
    summary: 'Your linked external sign-ins (JSON, or HTML for browsers)',
    security: JWT_OR_SESSION,
    responses: {
      200: {
        description: 'Linked identities',
        schema: z.object({ items: z.array(OwnIdentity) }),
        alternatives: { 'text/html': z.string() },
      },
      302: redirect('A browser without a session: to the login page'),
      401: error('No valid credentials'),
      403: appTokenRefused(),
    },
  })
  const unlinkErrors = {
    401: errorOrPage('No valid credentials'),
    403: errorOrPage(
      `A cross-site request with the session cookie (\`csrf_failed\`), or ${APP_TOKEN_REFUSED.toLowerCase()}`,
    ),
    404: errorOrPage('No identity of that provider is linked'),
    409: errorOrPage('The only way left to sign in: set a password or link another provider first'),
  }
  describeOperation({
    method: 'delete',
    path: '/auth/identities/{provider}',
    tags,
    summary: 'Unlink an external sign-in',
    security: JWT_OR_SESSION,
    params: Provider,
    responses: { 204: { description: 'Unlinked' }, ...unlinkErrors },
  })
  describeOperation({
    method: 'post',
    path: '/auth/identities/{provider}/unlink',
    tags,
    summary: 'Unlink an external sign-in (HTML form version of DELETE)',
    security: JWT_OR_SESSION,
    params: Provider,
    responses: { 303: redirect('Back to /auth/identities'), ...unlinkErrors },
  })
}

/** Declares /auth/login/{provider}, its /link, /auth/callback/{provider} and /auth/identities. */
export function describeIdentityEndpoints(): void {
  const tags = ['Auth: external providers']
  registerProviderLogin(tags)
  registerIdentities(tags)
}
