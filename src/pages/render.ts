import type { Context } from 'hono'
import type { JSX } from 'hono/jsx/jsx-runtime'

/**
 * Headers of every gateway page. The CSP allows no script (the passkey pages add the hash of
 * their one inline script: pageCsp) and styles only from our own stylesheet; forms may post only to us; no one may frame the page (clickjacking on the login
 * form); and no URL (with its return_to) leaks to other sites in Referer.
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Pages with forms hold a CSRF token and personal data: never stored by a shared cache or the back button.
  'cache-control': 'no-store',
}

export type PageStatus = 200 | 400 | 401 | 403 | 404 | 409 | 429 | 502 | 503

// An origin (scheme://host[:port]) or a bare scheme ("com.example.app:"), nothing that could end
// the directive or add another.
const CSP_SOURCE = /^[a-z][a-z0-9+.-]*:(\/\/[a-z0-9.:[\]-]+)?$/i

/**
 * The CSP source for a place a form's answer may redirect to: the URL's origin, or its scheme for a
 * native app's redirect URI. Chromium applies `form-action` to every redirect that follows a form
 * submission, so a consent form whose answer is a 303 to the app needs the app's origin listed.
 */
export function formTargetSource(uri: string): string | undefined {
  try {
    const url = new URL(uri)
    const source = url.host ? `${url.protocol}//${url.host}` : url.protocol
    return CSP_SOURCE.test(source) ? source.toLowerCase() : undefined
  } catch {
    return undefined
  }
}

export interface RenderOptions {
  /** Redirect targets (validated, registered URIs) the page's forms lead to, besides our origin. */
  formTargets?: readonly string[]
  /**
   * CSP hash sources (`'sha256-…'`) of the inline scripts the page carries (pages/passkey-script.ts):
   * only those run, never `unsafe-inline`; such a page may also fetch from our own origin.
   */
  scriptHashes?: readonly string[]
}

/** The page CSP with the form targets and script hashes of `options` added. */
export function pageCsp(options: RenderOptions = {}): string {
  let csp = PAGE_SECURITY_HEADERS['content-security-policy'] as string
  const sources = (options.formTargets ?? []).map(formTargetSource).filter((s) => s !== undefined)
  if (sources.length > 0) csp = csp.replace("form-action 'self'", `form-action 'self' ${sources.join(' ')}`)
  const hashes = options.scriptHashes ?? []
  if (hashes.length > 0) csp = `${csp}; script-src ${hashes.join(' ')}; connect-src 'self'`
  return csp
}

/** Renders a page (Hono JSX: every value is escaped) with the security headers. */
export function renderPage(
  c: Context,
  page: JSX.Element,
  status: PageStatus = 200,
  options: RenderOptions = {},
): Response | Promise<Response> {
  for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(name, value)
  c.header('content-security-policy', pageCsp(options))
  return c.html(page, status)
}

/**
 * The same as a standalone Response, for middleware that replaces a response another handler
 * already produced (an error, a JSON answer given to a browser form).
 */
export async function pageResponse(page: JSX.Element, status: PageStatus): Promise<Response> {
  const html = `<!DOCTYPE html>${await page.toString()}`
  return new Response(html, {
    status,
    headers: { ...PAGE_SECURITY_HEADERS, 'content-type': 'text/html; charset=UTF-8' },
  })
}
