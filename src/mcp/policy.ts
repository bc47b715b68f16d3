/**
 * Per-method and per-tool policy of an MCP route (`mcp_rules`): the rule for a message is the one
 * naming its method and name, else the one naming only its method; it applies on top of the
 * route's own rule, which every message passes first. A message no rule names needs only that.
 */
import type { AccessRule } from '../authz/policy'
import type { CompiledRoute } from '../config/load'
import type { McpRule } from '../config/schema'
import type { McpMessage } from './json-rpc'

export function mcpRuleFor(
  route: CompiledRoute,
  message: Pick<McpMessage, 'method' | 'name'>,
): AccessRule | undefined {
  if (message.method === undefined) return undefined
  let general: McpRule | undefined
  for (const rule of route.mcp_rules) {
    if (rule.method !== message.method) continue
    if (rule.name === undefined) general ??= rule
    else if (rule.name === message.name) return toAccessRule(rule, route)
  }
  return general && toAccessRule(general, route)
}

function toAccessRule(rule: McpRule, route: CompiledRoute): AccessRule {
  return { access: 'authenticated', roles: rule.roles, scopes: rule.scopes, delegated: route.delegated }
}

/** Every scope the route or one of its rules asks for: RFC 9728 `scopes_supported`. */
export function scopesOf(route: CompiledRoute): string[] {
  const scopes = new Set(route.scopes)
  for (const rule of Object.values(route.method_rules))
    for (const scope of rule.scopes ?? []) scopes.add(scope)
  for (const alternative of route.any_of ?? [])
    for (const scope of alternative.scopes ?? []) scopes.add(scope)
  for (const rule of route.mcp_rules) for (const scope of rule.scopes) scopes.add(scope)
  return [...scopes].sort()
}
