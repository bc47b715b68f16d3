/**
 * What an OpenAPI document declares about access, per operation, in the gateway's terms: the
 * credential kinds its security schemes map to, the scopes each requirement needs (all-of within a
 * requirement object, any-of between them), `x-gateway-roles`, `x-gateway-delegated`, and every
 * construct that cannot be expressed (reported, never dropped silently). Pure: takes the parsed
 * document (as openapi-document.ts loads it); the importer, `check` and the tests share it.
 */
import type { CredentialKind } from '../../src/config/schema'
import { isObject, type Json, translateRequirement, withoutSubsumed } from './openapi-schemes'

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

export interface SecurityOptions {
  /** Names of SETTINGS.external_issuers: OAuth2/OpenID Connect/bearer schemes accept them too. */
  issuers: readonly string[]
  /** For operations that declare no security at all (neither their own nor the document's). */
  defaultPolicy: 'deny' | 'authenticated' | 'public'
}

/** One security requirement object, translated: every field must hold. */
export interface DeclaredAlternative {
  credentials: CredentialKind[]
  scopes: string[]
  /** API key sources and parameter name, when the requirement uses an apiKey scheme. */
  apiKey?: { source: 'header' | 'query' | 'cookie'; name: string }
}

export type DeclaredPolicy =
  | { access: 'public' }
  | { access: 'deny' }
  | { access: 'authenticated'; alternatives: DeclaredAlternative[]; roles: string[] }

export interface Operation {
  /** The OpenAPI path as written (`/items/{item_id}`). */
  path: string
  method: string
  operationId?: string
  policy: DeclaredPolicy
  /** `x-gateway-revocation`. */
  revocation?: 'strict' | 'default'
  /** `x-gateway-delegated: deny` on an authenticated operation: tokens issued to apps are refused. */
  delegated?: 'deny'
  /** Where the policy came from: `operation`, `document` (global security), or `default`. */
  source: 'operation' | 'document' | 'default'
}

export interface Problem {
  /** JSON-pointer-ish location, e.g. `paths./items/{id}.get.security[1]`. */
  at: string
  message: string
  /** The operation got no route at all (its path lies under a gateway endpoint's segment). */
  skipped?: true
}

const ROLE = /^[a-z][a-z0-9_:.-]{0,63}$/
const KNOWN_EXTENSIONS = new Set(['x-gateway-roles', 'x-gateway-revocation', 'x-gateway-delegated'])

function readRoles(value: unknown, at: string, problems: Problem[]): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((role) => typeof role !== 'string' || !ROLE.test(role))) {
    problems.push({ at, message: 'x-gateway-roles must be a list of role names' })
    return ['__invalid__'] // fail closed: a role nobody holds
  }
  return value as string[]
}

/**
 * One `x-gateway-delegated` (operation, path item or document): true for deny, false for allow,
 * undefined when absent. Another value is reported where it stands and read as deny (fail closed).
 */
function readDelegated(object: Json, at: string, problems: Problem[]): boolean | undefined {
  const value = object['x-gateway-delegated']
  if (value === undefined) return undefined
  if (value === 'allow' || value === 'deny') return value === 'deny'
  problems.push({ at: `${at}.x-gateway-delegated`, message: 'must be "allow" or "deny"' })
  return true
}

function checkExtensions(object: Json, at: string, problems: Problem[]): void {
  for (const key of Object.keys(object)) {
    if (key.startsWith('x-gateway-') && !KNOWN_EXTENSIONS.has(key))
      problems.push({ at: `${at}.${key}`, message: 'unknown gateway extension' })
  }
}

/** Every operation of the document with its declared policy; problems are appended to `problems`. */
export function declaredOperations(
  document: Json,
  options: SecurityOptions,
  problems: Problem[],
): Operation[] {
  const schemes =
    isObject(document.components) && isObject(document.components.securitySchemes)
      ? document.components.securitySchemes
      : {}
  const paths = isObject(document.paths) ? document.paths : {}
  checkExtensions(document, 'document', problems)
  const documentDelegated = readDelegated(document, 'document', problems)
  const out: Operation[] = []
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue
    checkExtensions(item, `paths.${path}`, problems)
    const itemDelegated = readDelegated(item, `paths.${path}`, problems)
    for (const method of HTTP_METHODS) {
      const operation = item[method]
      if (!isObject(operation)) continue
      const at = `paths.${path}.${method}`
      checkExtensions(operation, at, problems)
      const own = operation.security
      const security = own ?? document.security
      const source =
        own !== undefined ? 'operation' : document.security !== undefined ? 'document' : 'default'
      const roles = readRoles(
        operation['x-gateway-roles'] ?? item['x-gateway-roles'] ?? document['x-gateway-roles'],
        at,
        problems,
      )
      const revocation = operation['x-gateway-revocation'] ?? item['x-gateway-revocation']
      if (revocation !== undefined && revocation !== 'strict' && revocation !== 'default')
        problems.push({ at: `${at}.x-gateway-revocation`, message: 'must be "strict" or "default"' })
      // The operation's or its path item's own say; a document-wide deny does not make the
      // document's public operations a problem.
      const ownDelegated = readDelegated(operation, at, problems) ?? itemDelegated
      const denyDelegated = ownDelegated ?? documentDelegated ?? false
      let policy: DeclaredPolicy
      if (!Array.isArray(security)) {
        policy =
          options.defaultPolicy === 'authenticated'
            ? { access: 'authenticated', alternatives: [], roles }
            : { access: options.defaultPolicy }
      } else if (
        security.length === 0 ||
        security.some((req) => isObject(req) && Object.keys(req).length === 0)
      ) {
        // `security: []`, or an empty requirement `{}` among others: anonymous access is allowed.
        policy = { access: 'public' }
        if (roles.length > 0)
          problems.push({ at, message: 'x-gateway-roles on a public operation is ignored' })
        if (ownDelegated)
          problems.push({
            at,
            message:
              'x-gateway-delegated: deny on a public operation is ignored (a public route reads no credential)',
          })
      } else {
        const alternatives = security
          .map((req, index) =>
            isObject(req)
              ? translateRequirement(req, schemes, `${at}.security[${index}]`, options, problems)
              : undefined,
          )
          .filter((alt): alt is DeclaredAlternative => alt !== undefined)
        // Dropping an alternative only narrows access; dropping all of them denies (fail closed).
        policy =
          alternatives.length > 0
            ? { access: 'authenticated', alternatives: withoutSubsumed(alternatives), roles }
            : { access: 'deny' }
      }
      out.push({
        path,
        method: method.toUpperCase(),
        ...(typeof operation.operationId === 'string' ? { operationId: operation.operationId } : {}),
        policy,
        ...(revocation === 'strict' || revocation === 'default' ? { revocation } : {}),
        ...(denyDelegated && policy.access === 'authenticated' ? { delegated: 'deny' as const } : {}),
        source,
      })
    }
  }
  return out
}
