/**
 * One request per documented operation, in an order that leaves each later one something to act
 * on (the browser flows' cases are in admin-openapi-cases-browser.ts). test/e2e/admin-http.test.ts
 * runs them against the real gateway and checks every answer against the OpenAPI document; an
 * operation documented without a case here fails that test.
 */
import { randomUUID } from 'node:crypto'
import { admin, type Case, call, keep } from './admin-openapi-call'
import { BROWSER_CASES } from './admin-openapi-cases-browser'

const PASSWORD = 'openapi walk passphrase 1'

export const CASES: Case[] = [
  [
    'POST /admin/users',
    async (ctx) =>
      keep(
        ctx,
        'user',
        await admin(ctx, 'POST', '/admin/users', { username: 'oa-target', password: PASSWORD }),
        (b) => b.id as string,
      ),
  ],
  ['GET /admin/users', (ctx) => admin(ctx, 'GET', '/admin/users?limit=2')],
  ['GET /admin/users/{id}', (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}`)],
  [
    'PATCH /admin/users/{id}',
    (ctx) => admin(ctx, 'PATCH', `/admin/users/${ctx.state.user}`, { roles: ['user', 'editor'] }),
  ],
  [
    'POST /auth/token',
    async (ctx) =>
      keep(
        ctx,
        'token',
        await call(ctx, 'POST', '/auth/token', {
          form: { grant_type: 'password', username: 'oa-target', password: PASSWORD },
        }),
        (b) => b.access_token as string,
      ),
  ],
  ['GET /auth/me', (ctx) => call(ctx, 'GET', '/auth/me', { token: ctx.state.token })],
  [
    'POST /auth/api-keys',
    async (ctx) =>
      keep(
        ctx,
        'ownKey',
        await call(ctx, 'POST', '/auth/api-keys', { token: ctx.state.token, json: { name: 'walk' } }),
        (b) => b.id as string,
      ),
  ],
  ['GET /auth/api-keys', (ctx) => call(ctx, 'GET', '/auth/api-keys', { token: ctx.state.token })],
  [
    'DELETE /auth/api-keys/{id}',
    (ctx) => call(ctx, 'DELETE', `/auth/api-keys/${ctx.state.ownKey}`, { token: ctx.state.token }),
  ],
  [
    'POST /admin/users/{id}/api-keys',
    async (ctx) =>
      keep(
        ctx,
        'key',
        await admin(ctx, 'POST', `/admin/users/${ctx.state.user}/api-keys`, { name: 'by admin' }),
        (b) => b.id as string,
      ),
  ],
  ['GET /admin/users/{id}/api-keys', (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}/api-keys`)],
  ['GET /admin/api-keys', (ctx) => admin(ctx, 'GET', '/admin/api-keys?limit=1')],
  ['DELETE /admin/api-keys/{id}', (ctx) => admin(ctx, 'DELETE', `/admin/api-keys/${ctx.state.key}`)],
  ['GET /admin/users/{id}/sessions', (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}/sessions`)],
  [
    'GET /admin/users/{id}/identities',
    (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}/identities`),
  ],
  ['GET /admin/users/{id}/grants', (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}/grants`)],
  // Passkeys: this gateway's ISSUER is 127.0.0.1, no RP ID, so the ceremonies answer their
  // documented 400 (passkeys_unavailable); src/passkeys and the passkeys browser test do the rest.
  ['GET /admin/users/{id}/passkeys', (ctx) => admin(ctx, 'GET', `/admin/users/${ctx.state.user}/passkeys`)],
  [
    'DELETE /admin/users/{id}/passkeys/{passkey_id}',
    (ctx) => admin(ctx, 'DELETE', `/admin/users/${ctx.state.user}/passkeys/no-such-passkey`),
  ],
  ['GET /auth/passkeys', (ctx) => call(ctx, 'GET', '/auth/passkeys', { token: ctx.state.token })],
  [
    'POST /auth/passkeys/registration-options',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/registration-options', { token: ctx.state.token, json: {} }),
  ],
  [
    'POST /auth/passkeys',
    (ctx) => call(ctx, 'POST', '/auth/passkeys', { token: ctx.state.token, json: { name: 'walk' } }),
  ],
  [
    'PATCH /auth/passkeys/{id}',
    (ctx) =>
      call(ctx, 'PATCH', '/auth/passkeys/no-such-passkey', { token: ctx.state.token, json: { name: 'x' } }),
  ],
  [
    'POST /auth/passkeys/{id}/rename',
    (ctx) =>
      call(ctx, 'POST', '/auth/passkeys/no-such-passkey/rename', {
        token: ctx.state.token,
        form: { name: 'x' },
      }),
  ],
  [
    'POST /auth/passkeys/{id}/delete',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/no-such-passkey/delete', { token: ctx.state.token }),
  ],
  [
    'DELETE /auth/passkeys/{id}',
    (ctx) => call(ctx, 'DELETE', '/auth/passkeys/no-such-passkey', { token: ctx.state.token }),
  ],
  [
    'POST /auth/passkeys/authentication-options',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/authentication-options', { json: { csrf: 'x' } }),
  ],
  [
    'POST /auth/passkeys/authentication',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/authentication', { json: { csrf: 'x', credential: {} } }),
  ],
  [
    'POST /auth/passkeys/second-factor-options',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/second-factor-options', { json: { csrf: 'x' } }),
  ],
  [
    'POST /auth/passkeys/second-factor',
    (ctx) => call(ctx, 'POST', '/auth/passkeys/second-factor', { json: { csrf: 'x', credential: {} } }),
  ],
  [
    'DELETE /admin/users/{id}/grants/{client_id}',
    // No grant for that client: the documented 404.
    (ctx) => admin(ctx, 'DELETE', `/admin/users/${ctx.state.user}/grants/no-such-app`),
  ],
  ['GET /auth/sessions', (ctx) => call(ctx, 'GET', '/auth/sessions', { token: ctx.state.token })],
  [
    'DELETE /auth/sessions/{id}',
    (ctx) => call(ctx, 'DELETE', `/auth/sessions/${randomUUID()}`, { token: ctx.state.token }),
  ],
  [
    'POST /auth/sessions/{id}/end',
    (ctx) => call(ctx, 'POST', `/auth/sessions/${randomUUID()}/end`, { token: ctx.state.token }),
  ],
  [
    'POST /auth/introspect',
    (ctx) =>
      call(ctx, 'POST', '/auth/introspect', { token: ctx.admin, form: { token: ctx.state.token ?? '' } }),
  ],
  [
    'POST /auth/revoke',
    (ctx) => call(ctx, 'POST', '/auth/revoke', { token: ctx.state.token, form: { token: 'not-a-token' } }),
  ],
  [
    'POST /auth/password',
    async (ctx) =>
      keep(
        ctx,
        'token',
        await call(ctx, 'POST', '/auth/password', {
          token: ctx.state.token,
          json: { current_password: PASSWORD, new_password: `${PASSWORD} changed` },
        }),
        (b) => b.access_token as string,
      ),
  ],
  ['POST /auth/logout', (ctx) => call(ctx, 'POST', '/auth/logout', { token: ctx.state.token })],
  [
    'POST /auth/logout-all',
    async (ctx) => {
      const fresh = await call(ctx, 'POST', '/auth/token', {
        form: { grant_type: 'password', username: 'oa-target', password: `${PASSWORD} changed` },
      })
      const token = ((await fresh.json()) as { access_token: string }).access_token
      return call(ctx, 'POST', '/auth/logout-all', { token })
    },
  ],
  [
    'POST /auth/register',
    (ctx) => call(ctx, 'POST', '/auth/register', { json: { username: 'oa-registered', password: PASSWORD } }),
  ],
  ['GET /auth/register', (ctx) => call(ctx, 'GET', '/auth/register')],
  [
    'POST /auth/clients',
    (ctx) =>
      call(ctx, 'POST', '/auth/clients', {
        json: { redirect_uris: ['http://127.0.0.1/callback'], client_name: 'OpenAPI walk' },
      }),
  ],
  ['GET /auth/login', (ctx) => call(ctx, 'GET', '/auth/login')],
  [
    'POST /auth/login',
    (ctx) =>
      call(ctx, 'POST', '/auth/login', { form: { username: 'oa-target', password: 'x', csrf: 'forged' } }),
  ],
  ['GET /auth/assets/gateway.css', (ctx) => call(ctx, 'GET', '/auth/assets/gateway.css')],
  ['POST /admin/users/{id}/revoke', (ctx) => admin(ctx, 'POST', `/admin/users/${ctx.state.user}/revoke`)],
  // The walk's user has no address: the documented 409.
  [
    'POST /admin/users/{id}/password-reset',
    (ctx) => admin(ctx, 'POST', `/admin/users/${ctx.state.user}/password-reset`),
  ],
  [
    'POST /admin/users/{id}/reset-factors',
    (ctx) => admin(ctx, 'POST', `/admin/users/${ctx.state.user}/reset-factors`),
  ],
  [
    'POST /admin/clients',
    (ctx) => admin(ctx, 'POST', '/admin/clients', { client_id: 'oa-client', scopes: ['read'] }),
  ],
  ['GET /admin/clients', (ctx) => admin(ctx, 'GET', '/admin/clients')],
  [
    'PATCH /admin/clients/{id}',
    (ctx) => admin(ctx, 'PATCH', '/admin/clients/oa-client', { allowed_roles: ['user'], skip_consent: true }),
  ],
  ['POST /admin/clients/{id}/secret', (ctx) => admin(ctx, 'POST', '/admin/clients/oa-client/secret')],
  ['DELETE /admin/clients/{id}', (ctx) => admin(ctx, 'DELETE', '/admin/clients/oa-client')],
  ['GET /admin/client-metadata-documents', (ctx) => admin(ctx, 'GET', '/admin/client-metadata-documents')],
  [
    'DELETE /admin/client-metadata-documents/{id}',
    // None has been used in the walk: the documented 404.
    (ctx) => admin(ctx, 'DELETE', `/admin/client-metadata-documents/${'0'.repeat(32)}`),
  ],
  ...BROWSER_CASES,
  ['GET /admin/audit', (ctx) => admin(ctx, 'GET', '/admin/audit?limit=5')],
  [
    'POST /admin/explain',
    (ctx) =>
      admin(ctx, 'POST', '/admin/explain', {
        method: 'GET',
        path: '/api/things?x=1',
        headers: { authorization: `Bearer ${ctx.admin}` },
      }),
  ],
  ['GET /admin/openapi.json', (ctx) => admin(ctx, 'GET', '/admin/openapi.json')],
  ['GET /admin/docs', (ctx) => admin(ctx, 'GET', '/admin/docs')],
  ['GET /admin', (ctx) => admin(ctx, 'GET', '/admin')],
  [
    'POST /admin/page/users/{id}/{action}',
    (ctx) => admin(ctx, 'POST', `/admin/page/users/${ctx.state.user}/disable`),
  ],
  ['DELETE /admin/users/{id}', (ctx) => admin(ctx, 'DELETE', `/admin/users/${ctx.state.user}`)],
]
