/**
 * The client's response from the upstream's: the same status, headers and streamed body, with the
 * gateway's `X-Request-Id`, minus any Set-Cookie for a gateway cookie. Its own module so that the
 * bench's stage table (bench/lib/stages.ts) can tell this stage's cost from the forward's.
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

/** Upstreams must not set or clear the gateway's own cookies. */
function withoutGatewaySetCookies(headers: Headers): void {
  const cookies = headers.getAll('set-cookie')
  const kept = cookies.filter(
    (cookie: string) => !GATEWAY_COOKIES.has(cookie.slice(0, Math.max(0, cookie.indexOf('='))).trim()),
  )
  if (kept.length === cookies.length) return
  headers.delete('set-cookie')
  for (const cookie of kept) headers.append('set-cookie', cookie)
}

/**
 * A fetch() response's headers are immutable, so setting `X-Request-Id` needs one copy; it is the
 * only copy made (the body streams through untouched), and the Set-Cookie filter runs only when
 * the upstream sent a Set-Cookie at all.
 */
export function clientResponse(upstream: Response, requestId: string): Response {
  const response = new Response(upstream.body, upstream)
  if (upstream.headers.has('set-cookie')) withoutGatewaySetCookies(response.headers)
  response.headers.set('x-request-id', requestId)
  return response
}
