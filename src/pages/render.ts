import type { Context } from 'hono'
import type { JSX } from 'hono/jsx/jsx-runtime'

/**
 * Headers of every gateway page. The CSP allows no script at all and styles only from our own
 * stylesheet; forms may post only to us; no one may frame the page (clickjacking on the login
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

/** Renders a page (Hono JSX: every value is escaped) with the security headers. */
export function renderPage(
  c: Context,
  page: JSX.Element,
  status: PageStatus = 200,
): Response | Promise<Response> {
  for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(name, value)
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
