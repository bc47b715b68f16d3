/**
 * Where to send a browser after login or logout. Only a path on the gateway's own origin is
 * honoured; a missing value becomes DEFAULT_LANDING_PATH, an unsafe one `/`. The rules follow the open-redirect bypasses reported
 * against oauth2-proxy's `rd` parameter: a browser reads `//evil`, `/\evil` and `/<TAB>/evil` as
 * another host, and an app behind the gateway may decode `/%2F/evil` or `/%5Cevil` into one.
 * So the value is checked as sent AND after percent-decoding (until it stops changing).
 */

/**
 * Where a sign-in without `return_to` lands: the account home (accounts/account-home-routes.ts),
 * a gateway page, so the default route table need not route `/`. The one default: the login
 * form, the provider callback and the login redirect all fall back to it through safeReturnTo.
 */
export const DEFAULT_LANDING_PATH = '/auth/account'

const MAX_LENGTH = 2048
const MAX_DECODE_ROUNDS = 3
// As sent: printable ASCII without "\" (browsers encode everything else in a real URL).
const RAW_ALLOWED = /^[\x21-\x5b\x5d-\x7e]+$/
// Decoded: no control characters, no "\", no whitespace, and no non-ASCII punctuation or symbols
// (U+3002 "。", U+FF0F "／", U+FF3C "＼" ... that URL or host parsers may map to ".", "/", "\").
const DECODED_FORBIDDEN = /[\p{Cc}\\\s]|[^\p{ASCII}\p{L}\p{N}\p{M}]/u

function startsAsAnotherHost(path: string): boolean {
  return !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => segment === '.' || segment === '..')
}

/** The path part (the query and fragment are left as sent: they cannot change the host). */
function pathPart(value: string): string {
  const end = value.search(/[?#]/)
  return end < 0 ? value : value.slice(0, end)
}

function decodeFully(value: string): string | undefined {
  let current = value
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    let next: string
    try {
      next = decodeURIComponent(current)
    } catch {
      return undefined
    }
    if (next === current) return current
    current = next
  }
  return undefined
}

function isSafePath(value: string, origin: string): boolean {
  if (value.length === 0 || value.length > MAX_LENGTH || !RAW_ALLOWED.test(value)) return false
  const path = pathPart(value)
  if (startsAsAnotherHost(path) || hasDotSegment(path)) return false
  const decoded = decodeFully(path)
  if (decoded === undefined || DECODED_FORBIDDEN.test(decoded)) return false
  const normalized = decoded.normalize('NFKC')
  if (startsAsAnotherHost(decoded) || startsAsAnotherHost(normalized) || hasDotSegment(decoded)) return false
  // The last word goes to a real URL parser: the value must resolve on the gateway's origin.
  try {
    return new URL(value, origin).origin === new URL(origin).origin
  } catch {
    return false
  }
}

/**
 * `value` when it is a safe path on `origin` (the gateway's, from ISSUER). Without one a sign-in
 * lands on DEFAULT_LANDING_PATH; an unsafe one becomes `/`, as CONTRACT.md
 * ("Browser sessions") promises, so a crafted link never learns more than "you were refused".
 */
export function safeReturnTo(value: string | null | undefined, origin: string): string {
  if (value === null || value === undefined) return DEFAULT_LANDING_PATH
  return isSafePath(value, origin) ? value : UNSAFE_RETURN_TO_PATH
}

/** Where an unsafe `return_to` sends the browser instead (CONTRACT.md: "anything else becomes /"). */
export const UNSAFE_RETURN_TO_PATH = '/'
