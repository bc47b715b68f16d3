import { GatewayError } from '../errors/gateway-error'
import { matchKey } from './case-folds'

/**
 * The path as the gateway decides on it, once, before any route match. `path` is what gets
 * authorized and, byte for byte, what is forwarded; `keys` are its segments in the form routes
 * are matched against.
 */
export interface CanonicalPath {
  path: string
  /** Decoded, NFKC-normalized, lowercased segments (no empty trailing segment). */
  keys: string[]
  /**
   * Segment index → decoded text, for the segments that are not ASCII; absent when none is (the
   * common case). The route table checks these against other case-folding semantics.
   */
  unicode?: Map<number, string>
  /**
   * Set when the path holds an escaped escape: `%25` followed by two hex digits (`%252e`). An
   * upstream that decodes twice reads it as another byte; only routes with
   * `allow_encoded_percent` take it (checked after the match, since the route decides).
   */
  encodedPercent?: true
}

export const MAX_PATH_LENGTH = 4096

// Characters that may stand unencoded in a path segment (RFC 3986 §3.3 pchar, minus ";" which we
// reject because servlet containers and others read it as a path parameter).
const RAW_ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,=:@%]*$/
const UNRESERVED = /[A-Za-z0-9\-._~]/
// Decoded bytes that would change how an upstream splits or reads the path.
const FORBIDDEN_BYTE = new Set([0x2f /* / */, 0x5c /* \ */, 0x3b /* ; */, 0x7f])
// What a match key must not contain once NFKC-normalized (C0 controls were already rejected as
// bytes, and NFKC never produces them).
const FORBIDDEN_KEY_CHAR = /[/\\;]/
// `%25` then two hex digits, in the canonical spelling (which decoded `%34%31` to `41` already).
const ESCAPED_ESCAPE = /%25[0-9A-Fa-f]{2}/
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function reject(reason: string): never {
  throw new GatewayError('invalid_path', `The request path was rejected: ${reason}.`)
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x41 && code <= 0x46) return code - 0x37
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  return -1
}

/** Canonicalizes one raw segment into `out` (its canonical spelling, its key and its flags). */
function canonicalizeSegment(raw: string, segments: string[], out: CanonicalPath): void {
  if (!RAW_ALLOWED.test(raw)) reject('it contains a character that is not allowed in a path segment')
  if (!raw.includes('%')) {
    // Hot path: no escapes, so plain ASCII (RAW_ALLOWED is ASCII only).
    if (raw === '.' || raw === '..') reject('dot segments are not allowed')
    segments.push(raw)
    out.keys.push(raw.toLowerCase())
    return
  }
  const bytes: number[] = []
  let nonAscii = false
  let canonical = ''
  for (let i = 0; i < raw.length; i++) {
    const char = raw.charCodeAt(i)
    if (char !== 0x25) {
      bytes.push(char)
      canonical += raw[i]
      continue
    }
    const high = hexValue(raw.charCodeAt(i + 1))
    const low = hexValue(raw.charCodeAt(i + 2))
    if (high < 0 || low < 0) reject('it contains an invalid percent-encoding')
    const byte = high * 16 + low
    if (byte < 0x20 || FORBIDDEN_BYTE.has(byte))
      reject('it contains an encoded slash, backslash, semicolon or control character')
    bytes.push(byte)
    if (byte >= 0x80) nonAscii = true
    const decodedChar = String.fromCharCode(byte)
    // RFC 3986 §6.2.2.2: encoded unreserved characters are the same as the characters themselves.
    canonical +=
      byte < 0x80 && UNRESERVED.test(decodedChar) ? decodedChar : `%${raw.slice(i + 1, i + 3).toUpperCase()}`
    i += 2
  }
  let decoded: string
  try {
    decoded = decoder.decode(new Uint8Array(bytes))
  } catch {
    reject('it is not valid UTF-8 once decoded')
  }
  if (decoded === '.' || decoded === '..') reject('dot segments are not allowed')
  // NFKC + lowercase so that case or compatibility spellings (`ADMIN`, `ſ`, `K`) that a
  // case-insensitive upstream would treat as the same route match the same rule here.
  const key = matchKey(decoded)
  // NFKC folds compatibility characters into the very bytes rejected above (`‥` U+2025 → "..",
  // `／` U+FF0F → "/", `；` U+FF1B → ";"): an upstream that normalizes would read them as such.
  if (key === '.' || key === '..') reject('dot segments are not allowed')
  if (FORBIDDEN_KEY_CHAR.test(key))
    reject('it contains a character that normalizes to a slash, backslash or semicolon')
  if (nonAscii) {
    out.unicode ??= new Map()
    out.unicode.set(out.keys.length, decoded)
  }
  if (ESCAPED_ESCAPE.test(canonical)) out.encodedPercent = true
  segments.push(canonical)
  out.keys.push(key)
}

/**
 * Rejects (400 `invalid_path`) rather than repairs: encoded or raw slashes and backslashes, `;`,
 * control characters, bad or non-UTF-8 percent-encoding, dot segments in any spelling, and empty
 * segments. One trailing slash is kept. Letter case is preserved in the forwarded path and
 * ignored when matching routes.
 */
export function canonicalizePath(rawPath: string): CanonicalPath {
  if (rawPath.length === 0 || rawPath.charCodeAt(0) !== 0x2f) reject('it must start with "/"')
  if (rawPath.length > MAX_PATH_LENGTH) reject(`it is longer than ${MAX_PATH_LENGTH} characters`)
  const rawSegments = rawPath.split('/')
  const segments: string[] = []
  const out: CanonicalPath = { path: '', keys: [] }
  const last = rawSegments.length - 1
  for (let i = 1; i <= last; i++) {
    const raw = rawSegments[i] as string
    if (raw === '') {
      if (i === last) {
        segments.push('')
        continue
      }
      reject('empty path segments ("//") are not allowed')
    }
    canonicalizeSegment(raw, segments, out)
  }
  out.path = `/${segments.join('/')}`
  return out
}

export interface RequestTarget {
  /** `http` or `https`, as the runtime received the request. */
  scheme: string
  /** The Host the runtime parsed (lowercase, with port if any). */
  host: string
  rawPath: string
  /** The raw query string including "?", or "" (forwarded unchanged). */
  query: string
}

/** Splits a request URL into raw path and raw query without re-parsing (no second normalization). */
export function splitRequestUrl(url: string): RequestTarget {
  const schemeEnd = url.indexOf('://')
  const hostStart = schemeEnd < 0 ? 0 : schemeEnd + 3
  const pathStart = url.indexOf('/', hostStart)
  if (url.includes('#')) reject('it contains a fragment')
  const scheme = schemeEnd < 0 ? 'http' : url.slice(0, schemeEnd).toLowerCase()
  const host = url.slice(hostStart, pathStart < 0 ? url.length : pathStart).toLowerCase()
  if (pathStart < 0) return { scheme, host, rawPath: '/', query: '' }
  const queryStart = url.indexOf('?', pathStart)
  if (queryStart < 0) return { scheme, host, rawPath: url.slice(pathStart), query: '' }
  return { scheme, host, rawPath: url.slice(pathStart, queryStart), query: url.slice(queryStart) }
}
