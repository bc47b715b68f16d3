/**
 * The demo MCP server `npm start` runs, without the gateway: the official SDK's `Client` over
 * Streamable HTTP lists its tools and calls each, `delete_order` changes what `list_orders`
 * returns (for every caller), and each result names the caller from the identity headers of
 * that very request (the server is stateless: nothing is remembered from `initialize`). It
 * refuses nothing itself, not even a request that carries no identity. Standalone, it serves on
 * MCP_DEMO_PORT and answers `--help`.
 *
 * Time budget: ~5 s on a 2-core machine (one server in-process, two tsx child processes).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/lib/ports'
import { type Caller, type McpDemoServer, startMcpDemoServer } from '../../scripts/mcp-demo-server'
import { PROJECT_ROOT } from './support/project-copy'

const require = createRequire(import.meta.url)
const TSX_CLI = require.resolve('tsx/cli')

const ALICE = {
  'X-Auth-User': 'alice',
  'X-Auth-User-Id': 'usr_alice_01',
  'X-Auth-Roles': 'user',
  'X-Auth-Scopes': 'mcp:tools',
  'X-Auth-Method': 'jwt',
}
const BOB = { 'X-Auth-User': 'bob', 'X-Auth-User-Id': 'usr_bob_02', 'X-Auth-Method': 'jwt' }

interface ToolOutput {
  caller: Caller
  [key: string]: unknown
}

let demo: McpDemoServer
const logged: string[] = []
const clients: Client[] = []

/** An SDK client connected straight to the demo server, sending `headers` on every request. */
async function connect(headers: Record<string, string>, url = demo.url): Promise<Client> {
  const client = new Client({ name: 'mcp-demo-server-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
  clients.push(client)
  return client
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = await client.callTool({ name, arguments: args })
  const output = result.structuredContent as ToolOutput
  // Clients that read only `content` get the same object as text.
  expect(JSON.parse((result.content as { type: string; text: string }[])[0]?.text ?? '')).toEqual(output)
  return { output, isError: result.isError === true }
}

beforeAll(async () => {
  demo = await startMcpDemoServer({ log: (line) => logged.push(line) })
})

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()))
  await demo?.close()
})

describe('the demo MCP server, reached by the SDK client without the gateway', () => {
  it('lists echo, list_orders and delete_order, marking only delete_order destructive', async () => {
    const client = await connect(ALICE)
    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name)).toEqual(['echo', 'list_orders', 'delete_order'])
    const hints = Object.fromEntries(tools.map((tool) => [tool.name, tool.annotations]))
    expect(hints.echo?.readOnlyHint).toBe(true)
    expect(hints.list_orders?.readOnlyHint).toBe(true)
    expect(hints.delete_order?.destructiveHint).toBe(true)
    expect(client.getServerVersion()?.name).toBe('edge-auth-gateway-demo')
  })

  it('echo returns its text and the caller the identity headers named', async () => {
    const { output, isError } = await call(await connect(ALICE), 'echo', { text: 'hello through MCP' })
    expect(isError).toBe(false)
    expect(output).toEqual({
      text: 'hello through MCP',
      caller: {
        user: 'alice',
        user_id: 'usr_alice_01',
        roles: 'user',
        scopes: 'mcp:tools',
        auth_method: 'jwt',
      },
    })
  })

  it('delete_order removes an order from list_orders, for every caller, and names who deleted it', async () => {
    const alice = await connect(ALICE)
    const bob = await connect(BOB)
    const before = (await call(bob, 'list_orders')).output
    expect((before.orders as { id: string }[]).map((order) => order.id)).toEqual([
      'ord-1001',
      'ord-1002',
      'ord-1003',
    ])
    expect(before.caller.user).toBe('bob')

    const deleted = await call(alice, 'delete_order', { id: 'ord-1002' })
    expect(deleted.isError).toBe(false)
    expect(deleted.output).toMatchObject({ deleted: { id: 'ord-1002' }, caller: { user_id: 'usr_alice_01' } })
    expect(logged).toContain('delete_order ord-1002 called by alice')

    const after = (await call(bob, 'list_orders')).output
    expect((after.orders as { id: string }[]).map((order) => order.id)).toEqual(['ord-1001', 'ord-1003'])
    expect(after.caller).toMatchObject({ user: 'bob', user_id: 'usr_bob_02' })
  })

  it('deleting an order that is not there is a tool error, and the list stays as it was', async () => {
    const client = await connect(BOB)
    const missing = await call(client, 'delete_order', { id: 'ord-9999' })
    expect(missing.isError).toBe(true)
    expect(missing.output).toMatchObject({
      deleted: null,
      error: 'no order ord-9999',
      caller: { user: 'bob' },
    })
    expect((await call(client, 'list_orders')).output.orders).toHaveLength(2)
  })

  it('reads the identity of each request, not the one its session began with', async () => {
    let user = 'alice'
    const client = new Client({ name: 'identity-switch', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(demo.url), {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers)
        headers.set('X-Auth-User', user)
        return fetch(url, { ...init, headers })
      },
    })
    await client.connect(transport)
    clients.push(client)
    expect((await call(client, 'echo', { text: 'first' })).output.caller.user).toBe('alice')
    user = 'carol'
    expect((await call(client, 'echo', { text: 'second' })).output.caller.user).toBe('carol')
  })

  it('refuses nothing itself: a request with no identity headers is served, with a null caller', async () => {
    const { output, isError } = await call(await connect({}), 'echo', { text: 'anonymous' })
    expect(isError).toBe(false)
    expect(output.caller).toEqual({ user: null, user_id: null, roles: null, scopes: null, auth_method: null })
  })

  it('answers GET and DELETE with 405 (stateless: no stream to open, no session to end)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(demo.url, { method, headers: { accept: 'text/event-stream' } })
      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe('POST')
      expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null })
    }
    expect((await fetch(`${demo.origin}/other`, { method: 'POST' })).status).toBe(404)
  })
})

describe('the demo MCP server run standalone', () => {
  let child: ChildProcess | undefined
  afterAll(() => {
    child?.kill('SIGTERM')
  })

  it('prints its usage with --help', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [TSX_CLI, 'scripts/mcp-demo-server.ts', '--help'],
        { cwd: PROJECT_ROOT },
        (e, out) => (e ? reject(e) : resolve(out)),
      ),
    )
    expect(stdout).toContain('Usage: npx tsx scripts/mcp-demo-server.ts')
    expect(stdout).toContain('MCP_DEMO_PORT')
  })

  it('serves on MCP_DEMO_PORT and logs each tool call with its caller', async () => {
    const port = await freePort()
    child = spawn(process.execPath, [TSX_CLI, 'scripts/mcp-demo-server.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, MCP_DEMO_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    const ready = new Promise<void>((resolve, reject) => {
      child?.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8')
        if (stderr.includes('demo MCP server on')) resolve()
      })
      child?.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)))
    })
    await ready
    expect(stderr).toContain(`demo MCP server on http://127.0.0.1:${port}/mcp`)
    const client = await connect(BOB, `http://127.0.0.1:${port}/mcp`)
    expect((await call(client, 'echo', { text: 'standalone' })).output.caller.user).toBe('bob')
    await expect.poll(() => stderr).toContain('echo called by bob')
  })
})
