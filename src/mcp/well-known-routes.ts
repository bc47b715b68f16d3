/**
 * RFC 9728 discovery: GET /.well-known/oauth-protected-resource/<resource path> (and the bare
 * form when one MCP server is configured) answers the resource's metadata as JSON, with CORS for
 * any origin (oauth/well-known-routes.ts applies it to all of /.well-known), never an HTML page.
 */
import { type Context, Hono } from 'hono'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { PROTECTED_RESOURCE_PATH, protectedResourceMetadata, resourceForMetadataPath } from './metadata'

export const protectedResourceRoutes = new Hono<AppBindings>()

function serveMetadata(c: Context<AppBindings>) {
  const { config } = c.var.ctx
  const suffix = c.req.path.slice(PROTECTED_RESOURCE_PATH.length)
  const route = resourceForMetadataPath(config, suffix, new URL(c.req.url).origin)
  if (!route) throw new GatewayError('not_found', 'No protected resource is configured at this path.')
  // Changes only with the configuration; a client re-reads it when a token is refused anyway.
  return c.json(protectedResourceMetadata(route, config), 200, { 'cache-control': 'public, max-age=300' })
}

protectedResourceRoutes.get(PROTECTED_RESOURCE_PATH, serveMetadata)
protectedResourceRoutes.get(`${PROTECTED_RESOURCE_PATH}/*`, serveMetadata)
