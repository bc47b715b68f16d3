/**
 * The MCP stage of the proxy, after the route's own decision: read the JSON-RPC message of a POST
 * (src/mcp/json-rpc.ts), apply the route's `mcp_rules` to it, and turn every refusal, the route's
 * own included, into the MCP form (a challenge naming the resource metadata, a JSON-RPC error body
 * with the request's id). A GET (the SSE stream) and DELETE carry no message: only the route's rule.
 */
import { decide } from '../authz/policy'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import { GatewayError, type JsonRpcId } from '../errors/gateway-error'
import { type McpMessage, mcpRefusal, mcpRuleFor, readMcpMessage } from '../mcp'
import { denialError, type StageOutcome } from './stages'

type McpRoute = CompiledRoute & { resource: string }

function refused(
  outcome: StageOutcome,
  route: McpRoute,
  error: unknown,
  id: JsonRpcId,
  scope: readonly string[],
) {
  if (!(error instanceof GatewayError)) throw error
  const stage = outcome.stage === 'allowed' ? 'decision' : outcome.stage
  return { outcome: { ...outcome, stage, error: mcpRefusal(error, route, id, scope) }, body: undefined }
}

export async function judgeMcpRequest(
  request: Request,
  outcome: StageOutcome,
  config: GatewayConfig,
): Promise<{ outcome: StageOutcome; body: Uint8Array | undefined }> {
  const route = outcome.route as McpRoute
  let message: McpMessage | undefined
  let readError: unknown
  if (request.method === 'POST') {
    try {
      message = await readMcpMessage(request, config.settings.mcp_max_body_bytes)
    } catch (error) {
      readError = error
    }
  }
  const id = message?.id ?? (readError instanceof GatewayError ? (readError.jsonRpcId ?? null) : null)
  const rule = message ? mcpRuleFor(route, message) : undefined
  const scope = [...new Set([...(outcome.rule?.scopes ?? []), ...(rule?.scopes ?? [])])]
  // Who is calling is answered first: a client without a valid token learns nothing of the body.
  if (outcome.stage !== 'allowed') return refused(outcome, route, outcome.error, id, scope)
  if (readError) return refused(outcome, route, readError, id, scope)
  if (rule && outcome.principal) {
    const decision = decide(rule, outcome.principal, config.roleClosure)
    if (!decision.allow) return refused({ ...outcome, decision }, route, denialError(decision), id, scope)
  }
  return { outcome, body: message?.bytes }
}
