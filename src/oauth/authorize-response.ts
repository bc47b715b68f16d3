/**
 * The authorization response (RFC 6749 §4.1.2): the client's redirect URI with `code` or `error`,
 * the client's `state`, and `iss` (RFC 9207), which lets a client that talks to several
 * authorization servers notice a response from the wrong one (mix-up).
 */
import type { AuthorizeErrorCode } from './authorize-request'

export type AuthorizationResponse =
  | { code: string; state?: string }
  | { error: AuthorizeErrorCode; error_description?: string; state?: string }

/** Adds the response to the redirect URI's own query, keeping what was registered there. */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  response: AuthorizationResponse,
): string {
  const url = new URL(redirectUri)
  const entries: [string, string][] =
    'code' in response
      ? [['code', response.code]]
      : [
          ['error', response.error],
          ...(response.error_description
            ? ([['error_description', response.error_description]] as [string, string][])
            : []),
        ]
  if (response.state !== undefined) entries.push(['state', response.state])
  entries.push(['iss', issuer])
  for (const [name, value] of entries) url.searchParams.append(name, value)
  return url.href
}
