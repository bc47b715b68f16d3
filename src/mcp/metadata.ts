/**
 * RFC 9728 protected resource metadata of an MCP route, and where it is published: the resource's
 * origin, then `/.well-known/oauth-protected-resource`, then the resource's path (§3.1). Every URL
 * derives from the configured resource and ISSUER, never from the request's Host header.
 */
import type { CompiledRoute, GatewayConfig } from '../config/load'
import { scopesOf } from './policy'

export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource'

export function metadataUrl(resource: string): string {
  const url = new URL(resource)
  return `${url.origin}${PROTECTED_RESOURCE_PATH}${url.pathname === '/' ? '' : url.pathname}`
}

export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  scopes_supported: string[]
  bearer_methods_supported: ['header']
  resource_name: string
}

export function protectedResourceMetadata(
  route: CompiledRoute & { resource: string },
  config: GatewayConfig,
): ProtectedResourceMetadata {
  return {
    resource: route.resource,
    authorization_servers: [config.issuer],
    scopes_supported: scopesOf(route),
    bearer_methods_supported: ['header'],
    resource_name: `${config.settings.product_name} MCP server (${route.path})`,
  }
}

/**
 * The MCP route whose metadata `suffix` (the path after the well-known prefix) names: the resource
 * with that path, preferring the one on `origin` when several hosts share a path; with no suffix,
 * the only MCP resource when exactly one is configured.
 */
export function resourceForMetadataPath(
  config: GatewayConfig,
  suffix: string,
  origin: string,
): (CompiledRoute & { resource: string }) | undefined {
  const routes = [...config.mcpResources.values()] as (CompiledRoute & { resource: string })[]
  if (suffix === '' || suffix === '/') return routes.length === 1 ? routes[0] : undefined
  const path = suffix.replace(/\/+$/, '')
  const matching = routes.filter((route) => new URL(route.resource).pathname === path)
  return matching.find((route) => new URL(route.resource).origin === origin) ?? matching[0]
}
