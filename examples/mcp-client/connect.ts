/**
 * An MCP client that reaches the demo MCP server through the gateway, with the official SDK's
 * `Client` and `StreamableHTTPClientTransport` and nothing of the gateway's own code:
 *
 *   1. POST /mcp without a token: 401 with `WWW-Authenticate: Bearer resource_metadata="..."`
 *   2. the SDK reads the protected resource metadata (RFC 9728), then the authorization server's
 *      metadata (RFC 8414), and registers a client at its `registration_endpoint` (RFC 7591)
 *   3. this program prints the authorization URL (PKCE, `resource` = the MCP server's RFC 8707
 *      identifier); you open it in a browser and sign in
 *   4. the browser comes back to http://127.0.0.1:<port>/callback with the code; the SDK redeems it
 *   5. with the access token: tools/list, then tools/call echo
 *
 *   npm start                                   # in another terminal
 *   npx tsx examples/mcp-client/connect.ts [MCP_URL] [TEXT]
 *
 * Settings (environment): MCP_URL (default http://127.0.0.1:8787/mcp), CALLBACK_PORT (0: any free
 * port), SCOPE (asked for only when neither the 401 nor the metadata names scopes).
 * Every HTTP exchange is printed (method, URL, status), never a token.
 */

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { InMemoryOAuthProvider, startLoopbackReceiver } from './loopback-oauth'

const mcpUrl = new URL(process.argv[2] ?? process.env.MCP_URL ?? 'http://127.0.0.1:8787/mcp')
const text = process.argv[3] ?? 'hello from the MCP SDK client'
const SIGN_IN_TIMEOUT_MS = 5 * 60_000

/** `fetch` that prints each exchange: the SDK uses it for MCP and for every OAuth request. */
async function tracedFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init)
  const challenge = response.status === 401 ? `  ${response.headers.get('www-authenticate') ?? ''}` : ''
  console.log(`  ${init?.method ?? 'GET'} ${String(url)} -> ${response.status}${challenge}`)
  return response
}

const receiver = await startLoopbackReceiver(Number(process.env.CALLBACK_PORT ?? 0))
const provider = new InMemoryOAuthProvider(
  receiver.redirectUrl,
  {
    client_name: 'MCP SDK example (edge-auth-gateway)',
    redirect_uris: [receiver.redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // A native app holds no secret (RFC 8252 §8.4): PKCE protects the code instead.
    token_endpoint_auth_method: 'none',
    ...(process.env.SCOPE ? { scope: process.env.SCOPE } : {}),
  },
  (url) => console.log(`\nOpen this URL in a browser and sign in:\n\n  ${url.href}\n`),
)
const client = new Client({ name: 'edge-auth-gateway-mcp-example', version: '1.0.0' })
const transport = () =>
  new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: tracedFetch })

try {
  console.log(`Connecting to ${mcpUrl.href}`)
  const first = transport()
  try {
    await client.connect(first)
  } catch (error) {
    // The SDK has discovered, registered and shown the URL; it throws until the code is back.
    if (!(error instanceof UnauthorizedError)) throw error
    const code = await receiver.code(provider.expectedState, SIGN_IN_TIMEOUT_MS)
    console.log('Authorization code received; exchanging it for tokens')
    // The transport that met the 401 redeems the code: it holds the resource metadata URL and scope.
    await first.finishAuth(code)
    await client.connect(transport())
  }
  console.log(`Connected to ${client.getServerVersion()?.name ?? 'the server'}`)

  const { tools } = await client.listTools()
  console.log(`\ntools/list: ${tools.map((tool) => tool.name).join(', ')}`)
  const result = await client.callTool({ name: 'echo', arguments: { text } })
  const content = result.content as { type: string; text?: string }[]
  console.log(`tools/call echo: ${content.map((part) => part.text ?? `[${part.type}]`).join('\n')}`)
  if (result.isError) process.exitCode = 1
} finally {
  await client.close()
  await receiver.close()
}
