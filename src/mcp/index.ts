// Model Context Protocol servers behind the gateway: reading a client's message, per-tool policy,
// refusals as the MCP spec wants them, and RFC 9728 metadata (docs/mcp.md).

export { type McpMessage, readMcpMessage } from './json-rpc'
export { metadataUrl, PROTECTED_RESOURCE_PATH } from './metadata'
export { mcpRuleFor, scopesOf } from './policy'
export { mcpRefusal } from './refusal'
export { assertSameResource, invalidTarget, resolveResource } from './resource'
