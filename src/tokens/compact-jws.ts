import { base64url } from 'jose'

/**
 * A compact JWS taken apart once: the gateway's verifier (access-token.ts) and the loader that
 * picks a verifier by `iss` (authn/bearer-jwt.ts) read the same decoded parts, so a token seen for
 * the first time is base64url-decoded and JSON-parsed once, not once per reader.
 *
 * Nothing here is trusted: the parts are what the token claims until its signature is checked.
 */
export interface DecodedJws {
  /** The first segment as sent: equal segments decode to equal headers (access-token.ts memoizes). */
  headerSegment: string
  header: Record<string, unknown>
  payload: Record<string, unknown>
  /** ASCII bytes of `<header>.<payload>`, what the signature covers (RFC 7515 §5.2). */
  signingInput: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

/** Thrown for anything that is not three base64url segments holding two JSON objects. */
export class MalformedJws extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const ascii = new TextEncoder()

/** A JSON object as jose accepts one (jose's isObject): not null, not an array, not a primitive. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function decodeSegment(segment: string): Uint8Array<ArrayBuffer> {
  try {
    return base64url.decode(segment) as Uint8Array<ArrayBuffer>
  } catch (cause) {
    throw new MalformedJws('a segment is not base64url', { cause })
  }
}

/** A segment's JSON object (RFC 7515 §7.1: UTF-8, then JSON; a byte that is not UTF-8 is an error). */
export function decodeJsonSegment(segment: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(strictUtf8.decode(decodeSegment(segment)))
  } catch (cause) {
    throw new MalformedJws('a segment is not a JSON object', { cause })
  }
  if (!isJsonObject(value)) throw new MalformedJws('a segment is not a JSON object')
  return value
}

/**
 * `<header>.<payload>.<signature>`, each non-empty base64url (the caller has checked the shape).
 * `header`, when given, is the already-decoded first segment (see DecodedJws.headerSegment).
 */
export function decodeCompactJws(token: string, header?: Record<string, unknown>): DecodedJws {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1)
    throw new MalformedJws('not three segments')
  const headerSegment = token.slice(0, first)
  return {
    headerSegment,
    header: header ?? decodeJsonSegment(headerSegment),
    payload: decodeJsonSegment(token.slice(first + 1, second)),
    signingInput: ascii.encode(token.slice(0, second)) as Uint8Array<ArrayBuffer>,
    signature: decodeSegment(token.slice(second + 1)),
  }
}
