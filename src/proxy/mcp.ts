/**
 * The MCP stage of the proxy, after the route's own decision: read the JSON-RPC message of a POST
 * (src/mcp/json-rpc.ts), apply the route's `mcp_rules` to it, and turn every refusal, the route's
 * own included, into the MCP form (a challenge naming the resource metadata, a JSON-RPC error body
 * with the request's id). A GET (the SSE stream) and DELETE carry no message: only the route's rule.
 */
import { type AccessRule, decide } from '../authz/policy'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import { GatewayError, type JsonRpcId } from '../errors/gateway-error'
import { type McpMessage, mcpRefusal, mcpRuleFor, readMcpMessage } from '../mcp'
import { denialError, type StageOutcome } from './stages'

type McpRoute = CompiledRoute & { resource: string }

export interface McpJudgement {
  outcome: StageOutcome
  /** The bytes to forward (a POST's message); undefined for GET/DELETE or a refusal. */
  body: Uint8Array | undefined
  /** What was read of the message, and the `mcp_rules` entry that applied (explain reports both). */
  message?: Pick<McpMessage, 'id' | 'method' | 'name'>
  rule?: AccessRule
}

function refused(
  outcome: StageOutcome,
  route: McpRoute,
  error: unknown,
  id: JsonRpcId,
  scope: readonly string[],
): StageOutcome {
  if (!(error instanceof GatewayError)) throw error
  const stage = outcome.stage === 'allowed' ? 'decision' : outcome.stage
  return { ...outcome, stage, error: mcpRefusal(error, route, id, scope) }
}

export async function judgeMcpRequest(
  request: Request,
  outcome: StageOutcome,
  config: GatewayConfig,
): Promise<McpJudgement> {
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
  const read = message && { id: message.id, method: message.method, name: message.name }
  const judged = (verdict: StageOutcome, body?: Uint8Array): McpJudgement => ({
    outcome: verdict,
    body,
    message: read,
    rule,
  })
  // Who is calling is answered first: a client without a valid token learns nothing of the body.
  if (outcome.stage !== 'allowed') return judged(refused(outcome, route, outcome.error, id, scope))
  if (readError) return judged(refused(outcome, route, readError, id, scope))
  if (rule && outcome.principal) {
    const decision = decide(rule, outcome.principal, config.roleClosure)
    if (!decision.allow)
      return judged(refused({ ...outcome, decision }, route, denialError(decision), id, scope))
  }
  return judged(outcome, message?.bytes)
}
