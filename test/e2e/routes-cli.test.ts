/**
 * `npm run routes -- import-openapi` and `check` as CI runs them: the generated TOML is a table
 * wrangler reads and the Worker's validator accepts, `check` finds it equivalent to the document,
 * and an injected weaker rule fails `check` (exit 1) while a stronger one only warns.
 *
 * The commands run in this process (scripts/lib/routes-cli.ts through support/cli-in-process.ts:
 * their own parsing, checks, messages and exit codes), since a process per call spends 1-4 s of CPU
 * starting; two run as the real process, for the process itself (an exit 0 writing a file, an
 * exit 1 naming its reason on stderr).
 *
 * Time budget: ~10 s on a 2-core machine. Measured 17 s at load 2 when each call was a process.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRoutes } from '../../scripts/lib/routes-cli'
import { type CliRun, runInProcess } from './support/cli-in-process'
import { PROJECT_ROOT } from './support/project-copy'

const require = createRequire(import.meta.url)
const TSX_CLI = require.resolve('tsx/cli')
const FASTAPI = 'examples/fastapi/openapi.json'
const FORGE = 'test/fixtures/openapi/forge-api.yaml'

let dir: string
let shipped: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edge-auth-routes-cli-'))
  shipped = await readFile(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** `npm run routes -- <args>` as a process of its own, from the project root. */
function routesProcess(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX_CLI, 'scripts/routes.ts', ...args],
      { cwd: PROJECT_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/** The same command in this process. */
function routes(args: string[]): Promise<CliRun> {
  return runInProcess(() => runRoutes(args))
}

/** wrangler.toml with its own routes replaced by `fragment` (main pointed back at the project). */
async function configWith(name: string, fragment: string): Promise<string> {
  const withoutRoutes = shipped.replace(/\[\[vars\.ROUTES\]\][\s\S]*?(?=\n\[|\n#[^\n]*\n\[|$)/g, '')
  const path = join(dir, `${name}.toml`)
  await writeFile(
    path,
    `${withoutRoutes.replace('main = "src/index.ts"', `main = "${join(PROJECT_ROOT, 'src/index.ts')}"`)}\n${fragment}`,
  )
  return path
}

// The two processes run side by side with the in-process calls (those one at a time), so a test
// may wait for the others: hence the long timeout.
describe.concurrent('routes import-openapi → check', { timeout: 120_000 }, () => {
  let fastapiToml: string
  // Two tests read the same run of `import-openapi` on the large YAML spec: it runs once.
  let forgeImport: ReturnType<typeof routes> | undefined
  const importForge = () => {
    forgeImport ??= routes(['import-openapi', FORGE])
    return forgeImport
  }

  beforeAll(async () => {
    const out = join(dir, 'fastapi-routes.toml')
    const result = await routesProcess(['import-openapi', FASTAPI, '--out', out])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('9 operations → 9 routes')
    fastapiToml = await readFile(out, 'utf8')
  })

  it('writes TOML that check-config accepts and that check finds equivalent to the document', async () => {
    const config = await configWith('fastapi', fastapiToml)
    const result = await routes(['check', FASTAPI, '--config', config, '--upstream', 'UPSTREAM_URL'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    expect(result.stderr).toContain(
      '9 operations: 9 as declared, 0 weaker, 0 stronger, 0 unrouted; 0 route(s) cover no operation',
    )
  })

  it('fails (exit 1) on a weaker rule: the admin-only operation opened to any user', async () => {
    const weakened = fastapiToml.replace(/(path = "\/inventory\/stats"[\s\S]*?)roles = \["admin"\]\n/, '$1')
    expect(weakened).not.toBe(fastapiToml)
    const result = await routes(['check', FASTAPI, '--config', await configWith('weaker', weakened)])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(
      /^weaker +GET \/inventory\/stats \(admin_stats_inventory_stats_get\) → ROUTES\[\d+\] \/inventory\/stats: declared jwt, role admin; configured jwt$/m,
    )
  })

  it('fails on a weaker rule that a covering prefix route brings in (an operation left out of the table)', async () => {
    const dropped = fastapiToml.replace(
      /\[\[vars\.ROUTES\]\]\npath = "\/reports\/\{report_id\}"[\s\S]*?credentials = \["api_key"\]\n/,
      '',
    )
    const fragment = `${dropped}\n[[vars.ROUTES]]\npath = "/reports"\nupstream = "UPSTREAM_URL"\naccess = "public"\n`
    const result = await routes(['check', FASTAPI, '--config', await configWith('prefix', fragment)])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(
      /^weaker +GET \/reports\/\{report_id\} .* → ROUTES\[\d+\] \/reports: declared api_key; configured public$/m,
    )
  })

  it('passes (exit 0) with a stronger rule and an unrouted operation, listing both; --strict fails', async () => {
    const stronger = fastapiToml
      .replace(/(path = "\/status"[\s\S]*?)access = "public"/, '$1access = "authenticated"')
      .replace(/\[\[vars\.ROUTES\]\]\npath = "\/users\/me\/items"[\s\S]*?scopes = \["me", "items"\]\n/, '')
    const config = await configWith('stronger', stronger)
    const result = await routes(['check', FASTAPI, '--config', config])
    expect(result.code, result.stdout).toBe(0)
    expect(result.stdout).toMatch(/^stronger +GET \/status /m)
    expect(result.stdout).toMatch(/^unrouted +GET \/users\/me\/items .*not_found/m)
    expect((await routes(['check', FASTAPI, '--config', config, '--strict'])).code).toBe(1)
  })

  it('reports what a large YAML spec cannot express on stderr and exits 1 unless --allow-partial', async () => {
    const result = await importForge()
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      'unsupported: paths./enterprise/stats/all.get.security[0]: digestAuth: http scheme "digest"',
    )
    expect(result.stdout).toContain('[[vars.ROUTES]]')
    expect((await routes(['import-openapi', FORGE, '--allow-partial'])).code).toBe(0)
  })

  it("skips and reports the operations under the gateway's own /admin; --prefix routes them", async () => {
    const result = await importForge()
    expect(result.stderr).toContain(
      'skipped: paths./admin/keys.get: "/admin/keys" lies under /admin, which the gateway serves itself: no route written',
    )
    expect(result.stderr).toMatch(
      /146 operations → 130 routes, 4 skipped \(under the gateway's own paths\), 5 problem\(s\)/,
    )
    expect(result.stdout).not.toMatch(/^path = "\/admin/m)
    expect(result.stdout).toContain("# 4 operation(s) under the gateway's own paths got no route")
    const prefixed = await routes(['import-openapi', FORGE, '--prefix', '/forge'])
    expect(prefixed.stderr).not.toContain('skipped:')
    expect(prefixed.stdout).toMatch(/^path = "\/forge\/admin\/keys"$/m)
    const onReserved = await routes(['import-openapi', FORGE, '--prefix', '/Auth'])
    expect(onReserved.code).toBe(2)
    expect(onReserved.stderr).toContain('--prefix /Auth lies under /auth')
  })

  it('check refuses (exit 1) a configured table with a route under /auth, naming it', async () => {
    const fragment = `${fastapiToml}\n[[vars.ROUTES]]\npath = "/auth/legacy"\nupstream = "UPSTREAM_URL"\n`
    const result = await routesProcess(['check', FASTAPI, '--config', await configWith('reserved', fragment)])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /ROUTES\[\d+\]\.path: "\/auth\/legacy" lies under \/auth, which the gateway serves itself/,
    )
  })

  it('refuses a document that is not valid OpenAPI 3, naming the problem', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(
      bad,
      JSON.stringify({ openapi: '3.1.0', info: { title: 'x' }, paths: { '/a': { get: {} } } }),
    )
    const result = await routes(['import-openapi', bad])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/invalid OpenAPI document/)
  })
})
