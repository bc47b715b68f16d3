/**
 * An MCP route's refusals, as the MCP authorization spec wants them: a 401 or 403 challenge that
 * says where the resource's metadata is (`resource_metadata`) and which scopes would do (`scope`),
 * and a JSON-RPC error body echoing the request's id (errors/render.ts writes it), so that a
 * client shows a denied tool call as an error rather than failing to parse a page.
 */
import type { CompiledRoute } from '../config/load'
import { type Challenge, GatewayError, type JsonRpcId } from '../errors/gateway-error'
import { metadataUrl } from './metadata'

type BearerChallenge = Extract<Challenge, { scheme: 'Bearer' }>

function bearerChallenges(error: GatewayError): BearerChallenge[] {
  const list =
    error.challenge === undefined ? [] : Array.isArray(error.challenge) ? error.challenge : [error.challenge]
  return (list as Challenge[]).filter(
    (challenge): challenge is BearerChallenge => challenge.scheme === 'Bearer',
  )
}

/**
 * `error` as the MCP route answers it. `scope` is what the route (and the rule of the message, when
 * known) asks for: named in a 401 so the client requests it from the start.
 */
export function mcpRefusal(
  error: GatewayError,
  route: CompiledRoute & { resource: string },
  id: JsonRpcId,
  scope: readonly string[],
): GatewayError {
  let challenge: BearerChallenge | undefined
  if (error.status === 401 || error.status === 403) {
    const resourceMetadata = metadataUrl(route.resource)
    const bearer = bearerChallenges(error)
    const found = bearer[0]
    const wanted = found?.scope ?? (scope.length > 0 ? scope.join(' ') : undefined)
    challenge = {
      scheme: 'Bearer',
      ...(found?.error ? { error: found.error } : {}),
      ...(wanted ? { scope: wanted } : {}),
      resourceMetadata,
    }
  }
  return new GatewayError(error.code, error.message, {
    challenge: challenge ?? error.challenge,
    retryAfter: error.retryAfter,
    allow: error.allow,
    cause: error.cause,
    jsonRpcId: id,
  })
}
