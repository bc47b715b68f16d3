/**
 * Every gateway endpoint either manages the account or the gateway, and then declares the
 * first-party guard (requireFirstParty, src/authn/middleware.ts) before its handler, or is listed
 * below with the reason a token an app obtained for the user may call it. A new route that is in
 * neither place fails here, so no endpoint can forget the guard. (src/oauth/delegated-tokens.test.ts
 * sends a delegated token to each guarded endpoint and checks the refusal.)
 */
import { describe, expect, it } from 'vitest'
import { createApp } from './app'

/** Endpoints open to delegated tokens or to no credential at all, and why. */
const NOT_ACCOUNT_MANAGING: Readonly<Record<string, string>> = {
  'ALL /*': 'the proxy: routes decide, with `delegated = "deny"` where an operator wants it',
  'GET /healthz': 'liveness, no credential',
  'GET /.well-known/jwks.json': 'public metadata',
  'GET /.well-known/oauth-authorization-server': 'public metadata',
  'GET /.well-known/openid-configuration': 'public metadata',
  'GET /.well-known/oauth-protected-resource': 'public metadata (RFC 9728, MCP servers)',
  'GET /.well-known/oauth-protected-resource/*': 'public metadata (RFC 9728, MCP servers)',
  'GET /auth/assets/gateway.css': 'the pages’ stylesheet',
  'GET /auth/authorize': 'the browser session itself (first-party) drives it',
  'POST /auth/authorize': 'the consent form: browser session and CSRF token',
  'POST /auth/clients': 'RFC 7591 registration: no credential, a new public client (no account touched)',
  'GET /auth/callback/:provider': 'a provider login: browser flow state, no bearer token',
  'GET /auth/end-session': 'RP-initiated logout: browser session and id_token_hint',
  'POST /auth/end-session': 'its confirmation form: browser session and CSRF token',
  'POST /auth/introspect': 'RFC 7662: a confidential client, or an admin’s own (first-party) token',
  'GET /auth/login': 'the login page',
  'GET /auth/forgot-password': 'the forgot-password page',
  'POST /auth/forgot-password': 'asks for a reset mail: no credential, an identical answer for every address',
  'GET /auth/reset-password': 'the reset page: the emailed token is the credential',
  'POST /auth/reset-password': 'sets a password with the emailed token (CSRF-checked)',
  'GET /auth/verify-email': 'the confirm page: the emailed token is the credential',
  'POST /auth/verify-email': 'confirms an address with the emailed token (CSRF-checked)',
  'POST /auth/email-sign-in':
    'asks for a sign-in link or code by mail: no credential, an identical answer for every address',
  'GET /auth/sign-in-link': 'the sign-in link page: the emailed token is the credential',
  'POST /auth/sign-in-link': 'signs in with the emailed token (CSRF-checked, browser binding)',
  'POST /auth/email-code': 'signs in with an emailed code (CSRF-checked, throttled, capped per code)',
  'GET /dev/mailbox': 'the local dev mailbox (DEV_MAILBOX=1 and a loopback ISSUER only)',
  'POST /auth/login': 'a password login',
  'GET /auth/login/:provider': 'starts a provider login',
  'POST /auth/passkeys/authentication-options':
    'starts a passkey sign-in: the login form’s CSRF token, no credential yet',
  'POST /auth/passkeys/authentication': 'a passkey sign-in (login CSRF as POST /auth/login)',
  'POST /auth/passkeys/second-factor-options':
    'starts the passkey second step: a pending sign-in (login-form CSRF) or the browser session (its CSRF token)',
  'POST /auth/passkeys/second-factor':
    'the passkey as the second step: a pending sign-in or the browser session, never a bearer token',
  'POST /auth/login/:provider/link':
    'links a provider: the browser session and the identities page’s CSRF token only, never a bearer token',
  'POST /auth/logout': 'ends the caller’s own session or token family (a delegated token: its own)',
  'GET /auth/me': 'who the token is: delegated tokens keep it',
  'GET /auth/register': 'the registration page',
  'POST /auth/register': 'registration, no credential',
  'POST /auth/revoke': 'RFC 7009: a delegated token revokes only its own client’s tokens',
  'GET /auth/second-factor': 'the second step of a sign-in: a pending sign-in cookie, no session yet',
  'POST /auth/second-factor':
    'the second step: a pending sign-in (login-form CSRF) or the browser session (its CSRF token), never a bearer token',
  'POST /auth/token': 'the token endpoint: client authentication',
  'GET /auth/userinfo': 'OIDC UserInfo with `openid`: what delegated tokens are for',
  'POST /auth/userinfo': 'OIDC UserInfo with `openid`',
}

interface Entry {
  method: string
  path: string
  name: string
  index: number
}

function covers(pattern: string, path: string): boolean {
  if (pattern === path) return true
  if (!pattern.endsWith('/*')) return false
  const base = pattern.slice(0, -2)
  return path === base || path.startsWith(`${base}/`)
}

function appRoutes(): Entry[] {
  return createApp().routes.map((route, index) => ({
    method: route.method,
    path: route.path,
    name: route.handler.name,
    index,
  }))
}

/** Each endpoint: "METHOD path" → the index of its last handler (the one that answers). */
function endpoints(routes: readonly Entry[]): Map<string, number> {
  const found = new Map<string, number>()
  for (const route of routes) {
    if (route.method === 'ALL' && route.path !== '/*') continue
    const key = `${route.method} ${route.path}`
    found.set(key, Math.max(found.get(key) ?? -1, route.index))
  }
  return found
}

function guarded(routes: readonly Entry[], method: string, path: string, handlerIndex: number): boolean {
  return routes.some(
    (route) =>
      route.name === 'requireFirstParty' &&
      route.index < handlerIndex &&
      (route.method === method || route.method === 'ALL') &&
      covers(route.path, path),
  )
}

describe('the first-party guard on the app’s own routes', () => {
  it('is declared before the handler of every endpoint not listed as open to apps', () => {
    const routes = appRoutes()
    const unguarded = [...endpoints(routes)]
      .filter(([key]) => !Object.hasOwn(NOT_ACCOUNT_MANAGING, key))
      .filter(([key, index]) => {
        const [method = '', path = ''] = key.split(' ')
        return !guarded(routes, method, path, index)
      })
      .map(([key]) => key)
    expect(unguarded).toEqual([])
  })

  it('covers the account-managing endpoints the contract names', () => {
    const routes = appRoutes()
    const required = [
      'GET /admin/users',
      'POST /admin/explain',
      'GET /admin/audit',
      'GET /admin',
      'POST /auth/api-keys',
      'GET /auth/api-keys',
      'DELETE /auth/api-keys/:id',
      'GET /auth/sessions',
      'DELETE /auth/sessions/:id',
      'POST /auth/logout-all',
      'POST /auth/password',
      'GET /auth/identities',
      'DELETE /auth/identities/:provider',
      'GET /auth/grants',
      'DELETE /auth/grants/:client_id',
      'GET /auth/account',
      'POST /auth/account/grants/:client_id/revoke',
      'POST /auth/account/email',
      'POST /auth/account/email/verification',
      'GET /auth/passkeys',
      'POST /auth/passkeys/registration-options',
      'POST /auth/passkeys',
      'PATCH /auth/passkeys/:id',
      'DELETE /auth/passkeys/:id',
      'POST /auth/passkeys/:id/rename',
      'POST /auth/passkeys/:id/delete',
      'GET /admin/users/:id/passkeys',
      'DELETE /admin/users/:id/passkeys/:passkey_id',
    ]
    const found = endpoints(routes)
    for (const key of required) {
      const [method = '', path = ''] = key.split(' ')
      const index = found.get(key)
      expect(index, `${key} is served`).toBeDefined()
      expect(guarded(routes, method, path, index ?? -1), `${key} is guarded`).toBe(true)
    }
  })

  it('lists no open endpoint the app does not serve (a stale entry hides nothing)', () => {
    const served = endpoints(appRoutes())
    expect(Object.keys(NOT_ACCOUNT_MANAGING).filter((key) => !served.has(key))).toEqual([])
  })
})
