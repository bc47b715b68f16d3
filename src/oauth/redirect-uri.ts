/**
 * Redirect URIs: which ones a client may register, and whether a presented one is registered.
 * One pure module used by the admin CLI (registration) and the Worker (authorize, token), so the
 * two can never disagree. Exact string matching is what RFC 9700 §4.1.3 and OAuth 2.1 §4.1.1
 * require: every looser rule (prefix, case, normalisation) has been a token-theft bug somewhere.
 */

const MAX_REDIRECT_URI_LENGTH = 2000
// RFC 8252 §7.3: only IP literals get the any-port rule; `localhost` may resolve elsewhere (§8.3).
const LOOPBACK_IP_HOSTS = new Set(['127.0.0.1', '[::1]'])
const LOOPBACK_HOSTS = new Set([...LOOPBACK_IP_HOSTS, 'localhost'])
// RFC 8252 §7.1: a private-use scheme is a reverse domain name, e.g. com.example.app.
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const UNSAFE_CHARACTERS = /[\s\u0000-\u001f\u007f\\<>"{}|^`]/

export type RedirectUriCheck = { ok: true } | { ok: false; reason: string }

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri)
  } catch {
    return undefined
  }
}

/**
 * Whether `uri` may be registered: https; http only on a loopback host; or a reverse-DNS private
 * scheme for native apps (RFC 8252 §7.1). No fragment (RFC 6749 §3.1.2), no userinfo, and written
 * in the canonical form a URL parser gives back, so the exact match later compares like with like.
 */
export function checkRedirectUri(uri: string): RedirectUriCheck {
  if (uri.length === 0 || uri.length > MAX_REDIRECT_URI_LENGTH)
    return { ok: false, reason: `must be 1-${MAX_REDIRECT_URI_LENGTH} characters` }
  if (UNSAFE_CHARACTERS.test(uri))
    return { ok: false, reason: 'must not contain whitespace, control or unsafe characters' }
  if (uri.includes('#')) return { ok: false, reason: 'must not contain a fragment (#)' }
  const url = parse(uri)
  if (!url) return { ok: false, reason: 'is not an absolute URI' }
  if (url.username !== '' || url.password !== '' || /^[^:]+:\/\/[^/?]*@/.test(uri))
    return { ok: false, reason: 'must not contain userinfo (user@host)' }
  const scheme = url.protocol.slice(0, -1)
  if (scheme === 'http') {
    if (!LOOPBACK_HOSTS.has(url.hostname))
      return { ok: false, reason: 'http is allowed only for 127.0.0.1, [::1] and localhost' }
  } else if (scheme !== 'https' && !PRIVATE_USE_SCHEME.test(scheme)) {
    return {
      ok: false,
      reason: 'must be https, http on a loopback host, or a reverse-DNS app scheme (com.example.app:/cb)',
    }
  }
  if ((scheme === 'http' || scheme === 'https') && url.hostname === '')
    return { ok: false, reason: 'must name a host' }
  if (url.href !== uri) return { ok: false, reason: `must be written in canonical form: ${url.href}` }
  return { ok: true }
}

function isLoopbackIpRedirect(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_IP_HOSTS.has(url.hostname)
}

function withoutPort(url: URL): string {
  const copy = new URL(url.href)
  copy.port = ''
  return copy.href
}

/**
 * Whether `presented` is one of `registered`: the exact same string, or (RFC 8252 §7.3) a
 * loopback IP redirect that differs from a registered one only in its port, because a native app
 * binds an ephemeral port at run time. Nothing else: no prefix, case, path or userinfo leeway.
 */
export function matchRedirectUri(presented: string, registered: readonly string[]): boolean {
  if (registered.includes(presented)) return true
  if (!checkRedirectUri(presented).ok) return false
  const url = parse(presented)
  if (!url || !isLoopbackIpRedirect(url)) return false
  const key = withoutPort(url)
  return registered.some((candidate) => {
    const other = parse(candidate)
    return other !== undefined && isLoopbackIpRedirect(other) && withoutPort(other) === key
  })
}

/**
 * Whether `origin` may be listed in a client's `allowed_origins`: a bare web origin
 * (`scheme://host[:port]`, no path, written as browsers send it in `Origin`), https, or http on a
 * loopback host, as for redirect URIs.
 */
export function checkOrigin(origin: string): RedirectUriCheck {
  if (origin.length === 0 || origin.length > MAX_REDIRECT_URI_LENGTH || UNSAFE_CHARACTERS.test(origin))
    return { ok: false, reason: 'must be a web origin such as https://app.example.com' }
  const url = parse(origin)
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '')
    return { ok: false, reason: 'must be a web origin such as https://app.example.com' }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname))
    return { ok: false, reason: 'http is allowed only for 127.0.0.1, [::1] and localhost' }
  if (url.origin !== origin)
    return { ok: false, reason: `must be an origin alone, written as browsers send it: ${url.origin}` }
  return { ok: true }
}

/**
 * Where a redirect URI leads, as a person can judge it: `https://host[:port]`, or the app scheme
 * of a native app (`com.example.app:`). Shown on the consent page, first for a self-registered client.
 */
export function redirectHost(uri: string): string {
  try {
    const url = new URL(uri)
    return url.host ? `${url.protocol}//${url.host}` : url.protocol
  } catch {
    return uri
  }
}
