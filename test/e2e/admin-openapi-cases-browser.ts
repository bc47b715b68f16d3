/**
 * The OpenAPI walk's cases for the browser flows: the authorization code flow with consent, what an
 * app's token reads afterwards (userinfo, grants), linking and unlinking an external identity
 * through the GitHub stand-in `npm start` runs, and RP-initiated logout. Everything is set up
 * through public and admin endpoints: a user and a public client from the admin API, the browser
 * session from the login form.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  admin,
  browserLogin,
  type Case,
  type CaseContext,
  call,
  cookieValue,
  expectStatus,
  withSetCookies,
} from './admin-openapi-call'

const USERNAME = 'oa-browser'
const PASSWORD = 'openapi browser passphrase 2'
const APP = 'oa-app'
const REDIRECT_URI = 'http://127.0.0.1:9/callback'
const SIGNED_OUT_URI = 'http://127.0.0.1:9/signed-out'
const PROVIDER = 'local-github'

const session = (ctx: CaseContext) => ctx.state.browser ?? ''
const csrf = (ctx: CaseContext) => cookieValue(session(ctx), 'gw_csrf')

/** A user, a public client with a redirect URI, and a signed-in browser. */
async function setUp(ctx: CaseContext): Promise<void> {
  await expectStatus(
    await admin(ctx, 'POST', '/admin/users', { username: USERNAME, password: PASSWORD }),
    201,
    'create user',
  )
  await expectStatus(
    await admin(ctx, 'POST', '/admin/clients', {
      client_id: APP,
      name: 'OpenAPI walk app',
      public: true,
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['openid'],
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: [SIGNED_OUT_URI],
    }),
    201,
    'create client',
  )
  ctx.state.browser = await browserLogin(ctx, USERNAME, PASSWORD)
}

/** The app redeems the code from the consent redirect, as its back end would. */
async function redeemCode(ctx: CaseContext): Promise<void> {
  const code = new URL(ctx.state.consentRedirect ?? '').searchParams.get('code') ?? ''
  const response = await call(ctx, 'POST', '/auth/token', {
    form: {
      grant_type: 'authorization_code',
      client_id: APP,
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: ctx.state.verifier ?? '',
    },
  })
  await expectStatus(response, 200, 'code exchange')
  ctx.state.appToken = ((await response.json()) as { access_token: string }).access_token
}

/**
 * The user's own (first-party) password-grant token: the list of apps and withdrawing consent are
 * the user's to manage, never the app's (issue 19: an app's token there is 403).
 */
async function ownToken(ctx: CaseContext): Promise<string> {
  if (!ctx.state.ownToken) {
    const response = await call(ctx, 'POST', '/auth/token', {
      form: { grant_type: 'password', username: USERNAME, password: PASSWORD },
    })
    await expectStatus(response, 200, 'password grant')
    ctx.state.ownToken = ((await response.json()) as { access_token: string }).access_token
  }
  return ctx.state.ownToken
}

/** The GitHub stand-in's page, answered "Sign in as octo-dev": its redirect back to our callback. */
async function approveAtProvider(ctx: CaseContext): Promise<string> {
  const authorize = new URL(ctx.state.providerRedirect ?? '')
  const form = Object.fromEntries(authorize.searchParams)
  const answer = await call(ctx, 'POST', `${authorize.origin}${authorize.pathname}`, {
    form: { ...form, login: 'octo-dev' },
  })
  await expectStatus(answer, 302, 'stand-in consent')
  return answer.headers.get('location') ?? ''
}

export const BROWSER_CASES: Case[] = [
  [
    'GET /auth/authorize',
    async (ctx) => {
      await setUp(ctx)
      ctx.state.verifier = randomBytes(32).toString('base64url')
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: APP,
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        state: 'walk-state',
        nonce: 'walk-nonce',
        code_challenge: createHash('sha256').update(ctx.state.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString()
      ctx.state.authorizationQuery = query
      // Signed in, never asked before: the consent page.
      return call(ctx, 'GET', `/auth/authorize?${query}`, { cookie: session(ctx) })
    },
  ],
  [
    'POST /auth/authorize',
    async (ctx) => {
      const response = await call(ctx, 'POST', '/auth/authorize', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx), decision: 'allow', authorization_query: ctx.state.authorizationQuery ?? '' },
      })
      ctx.state.consentRedirect = response.headers.get('location') ?? ''
      return response
    },
  ],
  [
    'GET /auth/userinfo',
    async (ctx) => {
      await redeemCode(ctx)
      return call(ctx, 'GET', '/auth/userinfo', { token: ctx.state.appToken })
    },
  ],
  // The admin's password-grant token carries no `openid`: 403 insufficient_scope.
  ['POST /auth/userinfo', (ctx) => call(ctx, 'POST', '/auth/userinfo', { token: ctx.admin })],
  ['GET /auth/grants', async (ctx) => call(ctx, 'GET', '/auth/grants', { token: await ownToken(ctx) })],
  [
    'DELETE /auth/grants/{client_id}',
    async (ctx) => call(ctx, 'DELETE', `/auth/grants/${APP}`, { token: await ownToken(ctx) }),
  ],
  ['GET /auth/account', (ctx) => call(ctx, 'GET', '/auth/account', { cookie: session(ctx) })],
  // Email pages: the forms, a forged CSRF token (403), links with a token that never existed (400).
  ['GET /auth/forgot-password', (ctx) => call(ctx, 'GET', '/auth/forgot-password')],
  [
    'POST /auth/forgot-password',
    (ctx) =>
      call(ctx, 'POST', '/auth/forgot-password', { form: { csrf: 'forged', email: 'walk@example.com' } }),
  ],
  ['GET /auth/reset-password', (ctx) => call(ctx, 'GET', '/auth/reset-password?token=em_no-such-token')],
  [
    'POST /auth/reset-password',
    (ctx) =>
      call(ctx, 'POST', '/auth/reset-password', {
        form: { csrf: 'forged', token: 'em_no-such-token', new_password: 'a long enough new password' },
      }),
  ],
  ['GET /auth/verify-email', (ctx) => call(ctx, 'GET', '/auth/verify-email?token=em_no-such-token')],
  [
    'POST /auth/verify-email',
    (ctx) => call(ctx, 'POST', '/auth/verify-email', { form: { csrf: 'forged', token: 'em_no-such-token' } }),
  ],
  // Sign-in by email is off in the default config: each answers 404 as an unknown path.
  [
    'POST /auth/email-sign-in',
    (ctx) =>
      call(ctx, 'POST', '/auth/email-sign-in', {
        form: { csrf: 'forged', email: 'walk@example.com', kind: 'link' },
      }),
  ],
  ['GET /auth/sign-in-link', (ctx) => call(ctx, 'GET', '/auth/sign-in-link?token=em_no-such-token')],
  [
    'POST /auth/sign-in-link',
    (ctx) => call(ctx, 'POST', '/auth/sign-in-link', { form: { csrf: 'forged', token: 'em_no-such-token' } }),
  ],
  [
    'POST /auth/email-code',
    (ctx) =>
      call(ctx, 'POST', '/auth/email-code', {
        form: { csrf: 'forged', email: 'walk@example.com', code: '123456' },
      }),
  ],
  // The second step without a pending sign-in or a session: back to login.
  ['GET /auth/second-factor', (ctx) => call(ctx, 'GET', '/auth/second-factor')],
  [
    'POST /auth/second-factor',
    (ctx) => call(ctx, 'POST', '/auth/second-factor', { form: { csrf: 'forged', code: '123456' } }),
  ],
  // The setup page (200, or 302 when the walk's sign-in is older than the recent-sign-in limit);
  // the forms: an invalid enrolment token is 400, and with no app set up new codes and removal
  // are 404 (or 303 to login when the sign-in is no longer recent).
  [
    'GET /auth/second-factor/setup',
    (ctx) => call(ctx, 'GET', '/auth/second-factor/setup', { cookie: session(ctx) }),
  ],
  [
    'POST /auth/second-factor/setup',
    (ctx) =>
      call(ctx, 'POST', '/auth/second-factor/setup', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx), enrolment: 'not-a-form', code: '123456' },
      }),
  ],
  [
    'POST /auth/second-factor/recovery-codes',
    (ctx) =>
      call(ctx, 'POST', '/auth/second-factor/recovery-codes', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx) },
      }),
  ],
  [
    'POST /auth/second-factor/remove',
    (ctx) =>
      call(ctx, 'POST', '/auth/second-factor/remove', { cookie: session(ctx), form: { csrf: csrf(ctx) } }),
  ],
  [
    'POST /auth/account/grants/{client_id}/revoke',
    // The account page's form; withdrawn just above through DELETE: the documented 404.
    (ctx) =>
      call(ctx, 'POST', `/auth/account/grants/${APP}/revoke`, {
        cookie: session(ctx),
        form: { csrf: csrf(ctx) },
      }),
  ],
  // The account page's email forms: a change is mailed (200, or 303 to login when the walk's
  // sign-in is no longer recent); the user then has no unverified address to resend to (400).
  [
    'POST /auth/account/email',
    (ctx) =>
      call(ctx, 'POST', '/auth/account/email', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx), email: 'oa-browser@example.com' },
      }),
  ],
  [
    'POST /auth/account/email/verification',
    (ctx) =>
      call(ctx, 'POST', '/auth/account/email/verification', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx) },
      }),
  ],
  // A plain sign-in start (its flow is left to expire); linking is the form POST below.
  ['GET /auth/login/{provider}', (ctx) => call(ctx, 'GET', `/auth/login/${PROVIDER}?return_to=%2F`)],
  [
    'POST /auth/login/{provider}/link',
    async (ctx) => {
      // The account page's link form: the session's CSRF token, same-origin.
      const response = await call(ctx, 'POST', `/auth/login/${PROVIDER}/link`, {
        cookie: session(ctx),
        form: { csrf: csrf(ctx) },
      })
      ctx.state.browser = withSetCookies(session(ctx), response)
      ctx.state.providerRedirect = response.headers.get('location') ?? ''
      return response
    },
  ],
  [
    'GET /auth/callback/{provider}',
    async (ctx) => {
      const callback = new URL(await approveAtProvider(ctx))
      return call(ctx, 'GET', `${callback.pathname}${callback.search}`, { cookie: session(ctx) })
    },
  ],
  ['GET /auth/identities', (ctx) => call(ctx, 'GET', '/auth/identities', { cookie: session(ctx) })],
  [
    'POST /auth/identities/{provider}/unlink',
    (ctx) => call(ctx, 'POST', `/auth/identities/${PROVIDER}/unlink`, { cookie: session(ctx) }),
  ],
  [
    'DELETE /auth/identities/{provider}',
    // Unlinked just above: the documented 404.
    (ctx) => call(ctx, 'DELETE', `/auth/identities/${PROVIDER}`, { cookie: session(ctx) }),
  ],
  [
    'GET /auth/end-session',
    // No id_token_hint: the signed-in user is asked to confirm.
    (ctx) =>
      call(
        ctx,
        'GET',
        `/auth/end-session?${new URLSearchParams({ client_id: APP, post_logout_redirect_uri: SIGNED_OUT_URI, state: 'bye' })}`,
        { cookie: session(ctx) },
      ),
  ],
  [
    'POST /auth/end-session',
    (ctx) =>
      call(ctx, 'POST', '/auth/end-session', {
        cookie: session(ctx),
        form: { csrf: csrf(ctx), client_id: APP, post_logout_redirect_uri: SIGNED_OUT_URI, state: 'bye' },
      }),
  ],
]
