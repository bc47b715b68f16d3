/**
 * CORS for the gateway's own endpoints (CONTRACT "Delegated tokens"), one home for both policies:
 * - `clientCors`: /auth/token, /auth/revoke and /auth/userinfo, for the browser origins of enabled
 *   clients (client-origins.ts) and nobody else;
 * - `publicMetadataCors`: /.well-known/*, public metadata, for every origin (`*`);
 * - `registrationCors`: POST /auth/clients (RFC 7591), for every origin (`*`): browser-based MCP
 *   clients register from their own page, and the endpoint takes no cookie, so a page can do
 *   nothing there that a script elsewhere could not (registrations are throttled per address).
 * Neither ever sends Access-Control-Allow-Credentials: these endpoints take only what a request
 * carries explicitly (client credentials, code and verifier, a bearer token), never cookies, and a
 * browser refuses a credentialed CORS answer without it. Hono's middleware writes the headers.
 */
import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { AppBindings } from '../env'
import { isClientOrigin } from './client-origins'

/** What an app sends: a bearer token, and a form or JSON body. (No DPoP: the gateway takes none.) */
const ALLOW_HEADERS = ['authorization', 'content-type']
// Nothing secret, and an app needs them: the challenge of a 401/403 (RFC 6750 §3) and a 429's backoff.
const EXPOSE_HEADERS = ['www-authenticate', 'retry-after']
// Chromium caps a cached preflight at 2 h; 10 min keeps a removed origin's preflights short-lived.
const PREFLIGHT_MAX_AGE_SECONDS = 600

/**
 * CORS for a token endpoint serving `methods`. Requests without `Origin`, or from the gateway's own
 * origin (ISSUER), never look the origin set up, so server-side clients and the gateway's pages cost
 * no D1 query. A client's origin gets the CORS headers on every answer, errors included (set before
 * the handler runs, so onError's response keeps them). Any other origin gets none, and its preflight
 * is answered without them, before the endpoint runs. When the set cannot be loaded the request
 * ends in a 503 `storage_unavailable` without CORS headers, before a code or refresh token is spent.
 */
export function clientCors(methods: readonly string[]): MiddlewareHandler<AppBindings> {
  if (methods.length === 0) throw new Error('clientCors: name the methods the endpoint serves')
  const answer = cors({
    origin: (origin) => origin, // the caller below decides that it is a client's
    allowMethods: [...methods],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    credentials: false,
  })
  return async function clientOriginCors(c, next) {
    const origin = c.req.header('origin')
    if (
      origin !== undefined &&
      origin !== new URL(c.var.ctx.config.issuer).origin && // config/load.ts checked it is a URL
      (await isClientOrigin(c.env.DB, origin))
    ) {
      return answer(c, next)
    }
    if (c.req.method === 'OPTIONS') return c.body(null, 204, { vary: 'Origin' })
    await next()
    // Caches must not hand this origin-less answer to a client's origin, or the reverse.
    c.header('vary', 'Origin', { append: true })
  }
}

/** `/.well-known/*`: discovery documents and public keys, readable from any page. */
export function publicMetadataCors(): MiddlewareHandler<AppBindings> {
  return cors({ origin: '*', allowMethods: ['GET', 'HEAD'], credentials: false })
}

/** `/auth/clients`: dynamic client registration from any page, errors included, no credentials. */
export function registrationCors(): MiddlewareHandler<AppBindings> {
  return cors({
    origin: '*',
    allowMethods: ['POST'],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    credentials: false,
  })
}
