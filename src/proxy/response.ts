/**
 * The client's response from the upstream's: the same status, headers and streamed body, minus any
 * Set-Cookie for a gateway cookie, with the gateway's `X-Request-Id` only when
 * SETTINGS.response_request_id asks for it. Its own module so that the bench's stage table
 * (bench/lib/stages.ts) can tell this stage's cost from the forward's.
 */

// Cookies the gateway itself sets never reach an upstream, and an upstream cannot set them: the
// session, CSRF and known-device cookies, and the short-lived ones of a sign-in in progress (a
// provider login's flow, a pending second step, a passkey challenge's binding, an emailed link's
// binding), each under both its plain-http and its `__Host-` name (src/http/gateway-cookie.ts).
// cookie-names.test.ts fails when a `gw_` cookie of the source is missing here.
const GATEWAY_COOKIE_NAMES = [
  'gw_session',
  'gw_csrf',
  'gw_device',
  'gw_flow',
  'gw_pending',
  'gw_webauthn',
  'gw_email_link',
] as const

export const GATEWAY_COOKIES: ReadonlySet<string> = new Set(
  GATEWAY_COOKIE_NAMES.flatMap((name) => [name, `__Host-${name}`]),
)

/** Whether one of the upstream's Set-Cookie fields names a gateway cookie. */
function setsGatewayCookie(headers: Headers): boolean {
  return headers.getAll('set-cookie').some((cookie: string) => GATEWAY_COOKIES.has(cookieName(cookie)))
}

function cookieName(setCookie: string): string {
  return setCookie.slice(0, Math.max(0, setCookie.indexOf('='))).trim()
}

/** Upstreams must not set or clear the gateway's own cookies. */
function withoutGatewaySetCookies(headers: Headers): void {
  const kept = headers
    .getAll('set-cookie')
    .filter((cookie: string) => !GATEWAY_COOKIES.has(cookieName(cookie)))
  headers.delete('set-cookie')
  for (const cookie of kept) headers.append('set-cookie', cookie)
}

export interface ClientResponseOptions {
  /** Set as `X-Request-Id` (SETTINGS.response_request_id); absent: the upstream's headers as they are. */
  requestId?: string
  /** Replaces the upstream's body (an event stream that ends with its credential). */
  body?: ReadableStream<Uint8Array>
  /** Replaces the upstream's socket of a 101 (a relay that ends with its credential). */
  webSocket?: WebSocket
}

/**
 * The upstream's own response object when nothing about it changes: the common case, where a
 * fetch() response's immutable headers would otherwise cost a copy of the whole response. One copy
 * (headers only: the body streams through) when something must change: the request id is asked for,
 * the upstream tried to set a gateway cookie (a security edit, made whatever the settings), or a
 * guarded body or socket takes the upstream's place.
 */
export function clientResponse(upstream: Response, options: ClientResponseOptions = {}): Response {
  const { requestId, body, webSocket } = options
  const dropCookies = upstream.headers.has('set-cookie') && setsGatewayCookie(upstream.headers)
  if (requestId === undefined && !dropCookies && body === undefined && webSocket === undefined)
    return upstream
  // A 101 exists only with its socket (the runtime refuses a 101 without one).
  const response = upstream.webSocket
    ? new Response(null, {
        status: 101,
        webSocket: webSocket ?? upstream.webSocket,
        headers: upstream.headers,
      })
    : new Response(body ?? upstream.body, upstream)
  if (dropCookies) withoutGatewaySetCookies(response.headers)
  if (requestId !== undefined) response.headers.set('x-request-id', requestId)
  return response
}
