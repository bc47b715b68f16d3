/**
 * `npm run routes -- check-mcp`: an MCP route's mcp_rules against the tools the real demo MCP
 * server lists (the official SDK's server, in this process). A rule naming a tool the server lacks
 * fails the check: a misspelt name would leave the real tool under the route's weaker rule.
 *
 * Time budget: ~15 s on a 2-core machine (two CLI processes, each loading wrangler's config reader;
 * measured 13 s at load 2).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/lib/ports'
import { checkMcpTools, listTools, mcpRouteOf } from '../../scripts/lib/routes-mcp'
import { compileWorkerConfig } from '../../scripts/lib/wrangler-config'
import { type McpDemoServer, startMcpDemoServer } from '../../scripts/mcp-demo-server'
import { PROJECT_ROOT } from './support/project-copy'

const run = promisify(execFile)
const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli')

let demo: McpDemoServer
let dir: string

beforeAll(async () => {
  demo = await startMcpDemoServer({ port: await freePort() })
  dir = await mkdtemp(join(tmpdir(), 'gateway-check-mcp-'))
})

afterAll(async () => {
  await demo?.close()
  await rm(dir, { recursive: true, force: true })
})

function checkMcp(args: string[]) {
  return run(process.execPath, [TSX_CLI, 'scripts/routes.ts', 'check-mcp', demo.url, ...args], {
    cwd: PROJECT_ROOT,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )
}

describe('routes check-mcp', () => {
  it("lists each of the demo server's tools with the rule that decides it (wrangler.toml's /mcp)", async () => {
    const route = mcpRouteOf(compileWorkerConfig(join(PROJECT_ROOT, 'wrangler.toml')))
    const findings = checkMcpTools(route, await listTools(new URL(demo.url)))
    expect(findings).toEqual(
      expect.arrayContaining([
        { kind: 'ruled', tool: 'delete_order', detail: 'scopes read, and scopes write (mcp_rules)' },
        { kind: 'route_rule', tool: 'echo', detail: 'scopes read' },
        { kind: 'route_rule', tool: 'list_orders', detail: 'scopes read' },
      ]),
    )
    expect(findings.map((finding) => finding.kind)).not.toContain('unknown_tool')
  })

  it('flags a destructive tool without a rule of its own (a failure only with --strict)', async () => {
    const route = mcpRouteOf(compileWorkerConfig(join(PROJECT_ROOT, 'wrangler.toml')))
    const findings = checkMcpTools({ ...route, mcp_rules: [] }, await listTools(new URL(demo.url)))
    expect(findings).toContainEqual(
      expect.objectContaining({ kind: 'destructive_unruled', tool: 'delete_order' }),
    )
  })

  it('passes on the shipped configuration and fails on a misspelt tool name', async () => {
    const ok = await checkMcp([])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('delete_order')

    const toml = (await readFile(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8')).replace(
      'name = "delete_order"',
      'name = "delete_orders"',
    )
    const config = join(dir, 'wrangler.toml')
    await writeFile(config, toml)
    const failed = await checkMcp(['--config', config])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/unknown_tool\s+delete_orders/)
    // The real tool is then decided by the route rule alone: the check says so too.
    expect(failed.stdout).toMatch(/destructive_unruled\s+delete_order:/)
  })
})
