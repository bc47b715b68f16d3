/**
 * `npm run routes -- check-mcp`: an MCP route's `mcp_rules` against the tools its server lists.
 * A rule naming a tool the server does not have is an error (a misspelt `delete_order` leaves the
 * real tool under the route's weaker rule); a tool the server marks destructive that no rule names
 * is a warning (a failure with --strict); every other tool is listed with the rule that decides it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CompiledRoute, GatewayConfig } from '../../src/config/load'

export interface McpTool {
  name: string
  annotations?: { destructiveHint?: boolean; readOnlyHint?: boolean }
}

export type McpFindingKind = 'unknown_tool' | 'destructive_unruled' | 'ruled' | 'route_rule'

export interface McpFinding {
  kind: McpFindingKind
  tool: string
  detail: string
}

function describeRule(rule: { roles: readonly string[]; scopes: readonly string[] }): string {
  const parts = [
    ...(rule.scopes.length ? [`scopes ${rule.scopes.join(' ')}`] : []),
    ...(rule.roles.length ? [`a role of ${rule.roles.join(', ')}`] : []),
  ]
  return parts.length ? parts.join(' and ') : 'any valid token'
}

/** The MCP route `path` names, or the only one; throws when that is ambiguous or missing. */
export function mcpRouteOf(config: GatewayConfig, path?: string): CompiledRoute {
  const routes = config.routes.filter((route) => route.mcp && (path === undefined || route.path === path))
  if (routes.length === 1) return routes[0] as CompiledRoute
  if (routes.length === 0)
    throw new Error(path ? `no MCP route at ${path}` : 'the configuration has no MCP route')
  throw new Error(
    `several MCP routes: name one with --route (${routes.map((route) => route.path).join(', ')})`,
  )
}

export function checkMcpTools(route: CompiledRoute, tools: readonly McpTool[]): McpFinding[] {
  const findings: McpFinding[] = []
  const names = new Set(tools.map((tool) => tool.name))
  const callRules = route.mcp_rules.filter((rule) => rule.method === 'tools/call')
  for (const rule of callRules) {
    if (rule.name !== undefined && !names.has(rule.name))
      findings.push({
        kind: 'unknown_tool',
        tool: rule.name,
        detail:
          'an mcp_rules entry names it, but the server lists no such tool (misspelt? the real tool gets the route rule)',
      })
  }
  const general = callRules.find((rule) => rule.name === undefined)
  for (const tool of tools) {
    const rule = callRules.find((candidate) => candidate.name === tool.name) ?? general
    const base = describeRule({ roles: route.roles, scopes: route.scopes })
    if (rule) {
      findings.push({
        kind: 'ruled',
        tool: tool.name,
        detail: `${base}, and ${describeRule(rule)} (mcp_rules)`,
      })
    } else if (tool.annotations?.destructiveHint === true) {
      findings.push({
        kind: 'destructive_unruled',
        tool: tool.name,
        detail: `the server marks it destructive; only the route rule applies: ${base}`,
      })
    } else {
      findings.push({ kind: 'route_rule', tool: tool.name, detail: base })
    }
  }
  return findings
}

/** Every tool the MCP server at `url` lists (all pages), asked directly, without the gateway. */
export async function listTools(url: URL, headers: Record<string, string> = {}): Promise<McpTool[]> {
  const client = new Client({ name: 'edge-auth-gateway routes check-mcp', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }))
  try {
    const tools: McpTool[] = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor ? { cursor } : {})
      tools.push(...page.tools)
      cursor = page.nextCursor
    } while (cursor)
    return tools
  } finally {
    await client.close()
  }
}
