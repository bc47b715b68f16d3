/**
 * The bundled demo MCP server: a Model Context Protocol server on Streamable HTTP at `/mcp`, built
 * with the official SDK (`McpServer` + `StreamableHTTPServerTransport`). `npm start` runs it
 * beside the demo upstream and points `MCP_UPSTREAM_URL` at it; tests start it in-process.
 *
 * It has no auth code at all, on purpose: it trusts the gateway in front of it and refuses nothing
 * itself. Every tool result names the caller from the gateway's identity headers (`X-Auth-User`,
 * `X-Auth-User-Id`, ...), so a test can prove who the gateway said was calling.
 *
 * Tools, from harmless to destructive (what a per-tool policy at the gateway tells apart):
 *   echo          returns its text                       (read-only)
 *   list_orders   the in-memory orders                   (read-only)
 *   delete_order  removes one order from the list        (destructive)
 *
 * Stateless, with JSON responses: every POST builds a fresh server and transport (the SDK's
 * stateless mode: no `Mcp-Session-Id`, which the 2026-07-28 spec removes anyway), and the answer
 * is one `application/json` body rather than an SSE stream. Each request then stands alone, which
 * is what a gateway that authorizes each JSON-RPC call from its body and headers expects, and a
 * request can reach any instance. Only the orders outlive a request: they belong to the server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { CallToolResult, RequestInfo } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'
import { describeError, fail, info, scriptArgs, wantsHelp } from './lib/cli'
import { parsePort } from './lib/ports'

export const MCP_PATH = '/mcp'
export const DEFAULT_MCP_DEMO_PORT = 8791

export interface Order {
  id: string
  item: string
  quantity: number
}

/** Who the gateway said is calling: its identity headers, as received (absent ones are null). */
export interface Caller {
  user: string | null
  user_id: string | null
  roles: string | null
  scopes: string | null
  auth_method: string | null
}

export interface McpDemoServer {
  server: Server
  port: number
  origin: string
  /** `origin` + `/mcp`: the URL an MCP client connects to. */
  url: string
  close(): Promise<void>
}

export interface McpDemoServerOptions {
  port?: number
  host?: string
  /** One line per tool call (tool, arguments' gist, caller); `npm start` prints them. */
  log?: (line: string) => void
}

const INITIAL_ORDERS: readonly Order[] = [
  { id: 'ord-1001', item: 'mechanical keyboard', quantity: 1 },
  { id: 'ord-1002', item: 'usb-c cable', quantity: 3 },
  { id: 'ord-1003', item: 'monitor arm', quantity: 2 },
]

function header(info: RequestInfo | undefined, name: string): string | null {
  const value = info?.headers[name]
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}

/** The SDK hands each handler the HTTP request's headers (lower-cased) as `extra.requestInfo`. */
export function callerOf(info: RequestInfo | undefined): Caller {
  return {
    user: header(info, 'x-auth-user'),
    user_id: header(info, 'x-auth-user-id'),
    roles: header(info, 'x-auth-roles'),
    scopes: header(info, 'x-auth-scopes'),
    auth_method: header(info, 'x-auth-method'),
  }
}

/** Text for clients that only read `content`, and the same object as `structuredContent`. */
function result(value: Record<string, unknown>, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value, isError }
}

function buildServer(orders: Order[], log: (line: string) => void): McpServer {
  const server = new McpServer({ name: 'edge-auth-gateway-demo', version: '1.0.0' })
  const called = (tool: string, detail: string, caller: Caller): void =>
    log(`${tool}${detail} called by ${caller.user ?? '(no X-Auth-User)'}`)

  server.registerTool(
    'echo',
    {
      description: 'Returns the text it is given, and who called.',
      inputSchema: { text: z.string().describe('Text to echo back') },
      annotations: { readOnlyHint: true },
    },
    async ({ text }, extra) => {
      const caller = callerOf(extra.requestInfo)
      called('echo', '', caller)
      return result({ text, caller })
    },
  )

  server.registerTool(
    'list_orders',
    {
      description: 'Lists the (demo, in-memory) orders.',
      annotations: { readOnlyHint: true },
    },
    async (extra) => {
      const caller = callerOf(extra.requestInfo)
      called('list_orders', '', caller)
      return result({ orders, caller })
    },
  )

  server.registerTool(
    'delete_order',
    {
      description: 'Deletes one order by id. Destructive: the order is gone for every caller.',
      inputSchema: { id: z.string().describe('Order id, e.g. ord-1001') },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    async ({ id }, extra) => {
      const caller = callerOf(extra.requestInfo)
      called('delete_order', ` ${id}`, caller)
      const index = orders.findIndex((order) => order.id === id)
      // A tool error (isError), not a protocol error: the call was valid, the order is not there.
      if (index < 0) return result({ deleted: null, error: `no order ${id}`, caller }, true)
      const [deleted] = orders.splice(index, 1)
      return result({ deleted, caller })
    },
  )
  return server
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(body))
}

const METHOD_NOT_ALLOWED = {
  jsonrpc: '2.0',
  // Stateless: no server-initiated stream to GET and no session to DELETE.
  error: { code: -32000, message: 'Method not allowed: this server answers POST only (stateless)' },
  id: null,
}

export async function startMcpDemoServer(options: McpDemoServerOptions = {}): Promise<McpDemoServer> {
  const host = options.host ?? '127.0.0.1'
  const log = options.log ?? (() => {})
  const orders = INITIAL_ORDERS.map((order) => ({ ...order }))

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]
    if (path !== MCP_PATH) {
      sendJson(response, 404, { error: 'not_found', message: `the MCP endpoint is ${MCP_PATH}` })
      return
    }
    if (request.method !== 'POST') {
      sendJson(response, 405, METHOD_NOT_ALLOWED, { allow: 'POST' })
      return
    }
    // The SDK's stateless mode needs a transport per request (a reused one would mix up the
    // JSON-RPC ids of different clients), and a server is connected to one transport at a time.
    const server = buildServer(orders, log)
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    })
    response.on('close', () => {
      void transport.close()
      void server.close()
    })
    await server.connect(transport)
    await transport.handleRequest(request, response)
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return response.destroy()
      sendJson(response, 500, { jsonrpc: '2.0', error: { code: -32603, message: String(error) }, id: null })
    })
  })
  // As the demo upstream: longer than any client's idle pool, so no reused connection is a closed one.
  server.keepAliveTimeout = 120_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, resolve)
  })
  const port = (server.address() as AddressInfo).port
  const origin = `http://${host}:${port}`
  return {
    server,
    port,
    origin,
    url: `${origin}${MCP_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const HELP = `Usage: npx tsx scripts/mcp-demo-server.ts [--help]

The demo MCP server (Streamable HTTP, stateless, JSON responses) on http://127.0.0.1:$MCP_DEMO_PORT/mcp.
Tools: echo {text}, list_orders, delete_order {id} (in-memory; a restart brings the orders back).
It checks no credentials: it trusts the gateway in front of it and reports, in every tool result,
the caller named by the gateway's X-Auth-User, X-Auth-User-Id, X-Auth-Roles, X-Auth-Scopes and
X-Auth-Method headers. \`npm start\` runs it unless MCP_UPSTREAM_URL is set.

Environment:
  MCP_DEMO_PORT   port (default ${DEFAULT_MCP_DEMO_PORT}); it listens on 127.0.0.1 only
`

async function main(): Promise<void> {
  if (wantsHelp(scriptArgs())) {
    process.stdout.write(HELP)
    return
  }
  let port: number
  try {
    port = parsePort(process.env.MCP_DEMO_PORT, 'MCP_DEMO_PORT', DEFAULT_MCP_DEMO_PORT)
  } catch (error) {
    fail(describeError(error), 2)
  }
  const demo = await startMcpDemoServer({ port, log: info }).catch((error: unknown) =>
    fail(`cannot start the demo MCP server on 127.0.0.1:${port} (${describeError(error)})`),
  )
  info(`demo MCP server on ${demo.url} (Ctrl-C stops it)`)
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))
if (isMain) main().catch((error: unknown) => fail(describeError(error)))
