import type { JWTPayload } from 'jose'
import { GatewayError } from '../errors/gateway-error'

/** How an external issuer's claims become our identity (the mapping part of ExternalIssuerConfig). */
export interface ClaimsMappingOptions {
  /** Claim name or dot path (`realm_access.roles`) holding the caller's roles or groups. */
  roles_claim: string
  /** Claim name or dot path holding scopes: a space-separated `scope` string or a `scp`/`permissions` array. */
  scopes_claim: string
  /** External value → our roles. Only mapped values grant a role; an empty map grants none. */
  role_map: Readonly<Record<string, readonly string[]>>
  /** Scopes this issuer may grant; any other scope in the token is dropped. Empty: none. */
  allowed_scopes: readonly string[]
  /** Claim name or dot path of the display name; `sub` when absent. */
  username_claim: string
}

export interface MappedIdentity {
  username: string
  roles: string[]
  scopes: string[]
}

// Mapped values end up in upstream headers: a CR, LF or NUL could split or end a header line, and
// other control characters have no business in a role, scope or name.
const CONTROL = /\p{Cc}/u // C0 (incl. CR, LF, NUL), DEL and C1
const MAX_VALUES = 256
const MAX_VALUE_LENGTH = 256

function rejected(claim: string): GatewayError {
  return new GatewayError('invalid_token', `The access token's "${claim}" claim is not acceptable.`, {
    challenge: { scheme: 'Bearer', error: 'invalid_token' },
  })
}

/**
 * Reads a claim by name, or by dot path into nested objects (`realm_access.roles`). The whole name
 * is tried first because some IdPs use URLs as claim names (`https://example.com/roles`). Only own
 * properties are followed, so `constructor` or `__proto__` never reach Object.prototype.
 */
export function readClaim(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path]
  let value: unknown = payload
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part))
      return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** A claim holding a list: an array of strings, or one string split on spaces and commas. */
function readList(payload: JWTPayload, path: string, separators: RegExp): string[] {
  const value = readClaim(payload, path)
  if (value === undefined || value === null) return []
  // Control characters are refused before splitting: "user\nadmin" is an attack, not two roles.
  if (typeof value === 'string' && CONTROL.test(value)) throw rejected(path)
  const items = typeof value === 'string' ? value.split(separators) : value
  if (!Array.isArray(items) || items.length > MAX_VALUES) throw rejected(path)
  const out: string[] = []
  for (const item of items) {
    if (typeof item !== 'string' || item.length > MAX_VALUE_LENGTH || CONTROL.test(item)) throw rejected(path)
    const trimmed = item.trim()
    if (trimmed !== '' && !out.includes(trimmed)) out.push(trimmed)
  }
  return out
}

/**
 * Roles come only from the operator's role_map. An IdP's `admin` group is the IdP's word, not
 * ours: passing role-looking values through would let whoever manages groups at the IdP (or a
 * second IdP trusted on the same route) grant our roles.
 */
function mapRoles(values: readonly string[], roleMap: ClaimsMappingOptions['role_map']): string[] {
  const mapped = values.flatMap((value) => (Object.hasOwn(roleMap, value) ? (roleMap[value] ?? []) : []))
  return [...new Set(mapped)]
}

/**
 * Scopes travel upstream space-separated, so one scope containing a space would read as two.
 * Malformed scopes reject the token; well-formed ones outside allowed_scopes are dropped, so an
 * IdP (or anyone who can configure a client there) cannot grant scopes this issuer was not trusted for.
 */
function readScopes(payload: JWTPayload, path: string, allowed: readonly string[]): string[] {
  const scopes = readList(payload, path, / +/)
  if (scopes.some((scope) => scope.includes(' '))) throw rejected(path)
  return scopes.filter((scope) => allowed.includes(scope))
}

function readUsername(payload: JWTPayload, path: string, subject: string): string {
  const value = readClaim(payload, path)
  if (value === undefined || value === null) return subject
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_VALUE_LENGTH ||
    CONTROL.test(value)
  )
    throw rejected(path)
  return value
}

/**
 * Maps a verified external token's claims to our roles, scopes and username. Unmapped roles and
 * scopes outside allowed_scopes are dropped (an IdP group we were not told about grants nothing); malformed or header-unsafe values
 * reject the whole token rather than being silently cleaned.
 */
export function mapExternalClaims(payload: JWTPayload, options: ClaimsMappingOptions): MappedIdentity {
  const subject = payload.sub
  if (
    typeof subject !== 'string' ||
    subject.length === 0 ||
    subject.length > MAX_VALUE_LENGTH ||
    CONTROL.test(subject)
  )
    throw rejected('sub')
  return {
    username: readUsername(payload, options.username_claim, subject),
    // Roles and groups: Keycloak and Okta send arrays; some IdPs send "a,b" or "a b".
    roles: mapRoles(readList(payload, options.roles_claim, /[\s,]+/), options.role_map),
    // RFC 6749 §3.3: scope is space-delimited; Azure's `scp` is a string, Okta's and Auth0's lists are arrays.
    scopes: readScopes(payload, options.scopes_claim, options.allowed_scopes),
  }
}
