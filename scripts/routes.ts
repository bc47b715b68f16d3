/**
 * `npm run routes -- <command>`: the route table and the upstream's OpenAPI document
 * (docs/openapi-routes.md). `import-openapi` writes routes from the document, `check` compares the
 * configured table with it (CI), `check-mcp` an MCP route's rules with its server's tools
 * (docs/mcp.md), `explain` asks a running gateway what it would do with a request.
 */
import { scriptArgs } from './lib/cli'
import { runRoutes } from './lib/routes-cli'

await runRoutes(scriptArgs())
