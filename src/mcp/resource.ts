/**
 * RFC 8707 resource indicators at the authorization server: which resource a code, and the
 * tokens it yields, are for. A resource names a configured MCP route (its `resource`, compared
 * after the normalization config/load.ts applies: no trailing slash); the token's `aud` is then
 * that resource, which only that route accepts.
 */
import { normalizeResource } from '../config/load'
import { GatewayError } from '../errors/gateway-error'

export function invalidTarget(description: string): GatewayError {
  return new GatewayError('invalid_target', description)
}

/**
 * The resource a request names, normalized, or undefined when it names none. `requested` is every
 * value of the `resource` parameter: more than one is refused (one resource per token here).
 * Without a resource, a client that registered itself (an MCP client: dynamic registration or a
 * metadata document) gets the only MCP resource when exactly one is configured, and otherwise
 * `invalid_target`, never the gateway's own audience: a token for one resource must never open
 * another. An operator-registered client without one gets the gateway's audience, as before MCP.
 */
export function resolveResource(
  requested: readonly string[],
  resources: ReadonlyMap<string, unknown>,
  options: { selfRegistered: boolean },
): string | undefined {
  if (requested.length > 1) throw invalidTarget('Name one resource per request.')
  const [value] = requested
  if (value === undefined) {
    if (!options.selfRegistered) return undefined
    if (resources.size === 1) return [...resources.keys()][0]
    throw invalidTarget('Name the resource (RFC 8707 `resource`) the token is for.')
  }
  const resource = normalizeResource(value)
  if (resource === undefined || !resources.has(resource))
    throw invalidTarget('The resource is not one this authorization server issues tokens for.')
  return resource
}

/**
 * At the token endpoint (code and refresh grants): a `resource` sent again must be the one the
 * grant was made for; absent, the grant's stays. Tokens never change resource on the way.
 */
export function assertSameResource(requested: readonly string[], granted: string | null): void {
  if (requested.length === 0) return
  if (requested.length > 1) throw invalidTarget('Name one resource per request.')
  const resource = normalizeResource(requested[0] as string)
  if (resource === undefined || resource !== granted)
    throw invalidTarget('The resource is not the one this grant was made for.')
}
