/**
 * One OpenAPI security requirement object in the gateway's terms: which credential kinds its
 * scheme stands for (OAuth2/OpenID Connect/bearer → jwt, apiKey → api_key, basic → basic), its
 * scopes, and why it cannot be expressed when it cannot. Used by openapi-security.ts.
 */
import type { CredentialKind } from '../../src/config/schema'
import type { DeclaredAlternative, Problem, SecurityOptions } from './openapi-security'

const SCOPE = /^[a-z][a-z0-9_:.-]{0,63}$/

export type Json = Record<string, unknown>

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The credential kinds one security scheme stands for, or a reason it cannot be expressed. */
function schemeKinds(
  scheme: Json,
  options: SecurityOptions,
): { kinds: CredentialKind[]; apiKey?: DeclaredAlternative['apiKey'] } | { unsupported: string } {
  const bearer = (): CredentialKind[] => (options.issuers.length > 0 ? ['jwt', 'external_jwt'] : ['jwt'])
  switch (scheme.type) {
    case 'oauth2':
    case 'openIdConnect':
      return { kinds: bearer() }
    case 'http': {
      const kind = String(scheme.scheme ?? '').toLowerCase()
      if (kind === 'bearer') return { kinds: bearer() }
      if (kind === 'basic') return { kinds: ['basic'] }
      return { unsupported: `http scheme "${kind}" (the gateway takes bearer and basic)` }
    }
    case 'apiKey': {
      const source = scheme.in
      const name = String(scheme.name ?? '')
      if (source === 'header') {
        if (name.toLowerCase() !== 'x-api-key')
          return {
            unsupported: `an API key in header "${name}" (the gateway reads API keys from X-API-Key only)`,
          }
        return { kinds: ['api_key'], apiKey: { source: 'header', name: 'api_key' } }
      }
      if (source === 'query' || source === 'cookie') {
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) return { unsupported: `API key parameter name "${name}"` }
        return { kinds: ['api_key'], apiKey: { source, name } }
      }
      return { unsupported: `an API key in "${String(source)}"` }
    }
    default:
      return { unsupported: `security scheme type "${String(scheme.type)}"` }
  }
}

/** One requirement object → one alternative, or undefined (reported) when it cannot be expressed. */
export function translateRequirement(
  requirement: Json,
  schemes: Json,
  at: string,
  options: SecurityOptions,
  problems: Problem[],
): DeclaredAlternative | undefined {
  const names = Object.keys(requirement)
  if (names.length > 1) {
    // The gateway loads one credential per request: "an API key AND a token" has no equivalent.
    problems.push({
      at,
      message: `requires ${names.join(' and ')} together, which the gateway cannot express`,
    })
    return undefined
  }
  const name = names[0] as string
  const scheme = schemes[name]
  if (!isObject(scheme)) {
    problems.push({ at, message: `names security scheme "${name}", which components.securitySchemes lacks` })
    return undefined
  }
  const kinds = schemeKinds(scheme, options)
  if ('unsupported' in kinds) {
    problems.push({ at, message: `${name}: ${kinds.unsupported}` })
    return undefined
  }
  const scopes = Array.isArray(requirement[name]) ? (requirement[name] as unknown[]).map(String) : []
  const bad = scopes.filter((scope) => !SCOPE.test(scope))
  if (bad.length > 0) {
    problems.push({ at, message: `${name}: scope(s) ${bad.join(', ')} are not valid gateway scope names` })
    return undefined
  }
  return { credentials: kinds.kinds, scopes, ...(kinds.apiKey ? { apiKey: kinds.apiKey } : {}) }
}

/** `b` lets in everyone `a` does (its kinds include a's, its scopes are among a's). */
function covers(b: DeclaredAlternative, a: DeclaredAlternative): boolean {
  return (
    a.credentials.every((kind) => b.credentials.includes(kind)) &&
    b.scopes.every((scope) => a.scopes.includes(scope))
  )
}

/**
 * Alternatives another one already covers add nothing: `[{oauth2: [user]}, {bearer: []}]` is "any
 * bearer token" to the gateway, which cannot tell an OAuth token from a personal one.
 */
export function withoutSubsumed(alternatives: DeclaredAlternative[]): DeclaredAlternative[] {
  return alternatives.filter(
    (alt, index) =>
      !alternatives.some(
        (other, otherIndex) =>
          otherIndex !== index && covers(other, alt) && (!covers(alt, other) || otherIndex < index),
      ),
  )
}
