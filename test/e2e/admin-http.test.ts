/**
 * The admin API end to end, against the real gateway (`npm start`): the OpenAPI document passes a
 * real validator and every documented operation answers with a documented status and shape; the
 * operator CLI acts through the API with --url; and the admin page works in real Chromium (sign in
 * as admin, disable a user, see the event).
 *
 * Time budget: ~30 s on a 2-core machine (one gateway, Chromium, three CLI processes; the other
 * CLI runs over HTTP in-process). Measured 40 s at load 2-3 with about fifteen CLI processes; with
 * three, its CPU over all processes fell from 54 s to 42 s at load 10 (with the run's migration).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import Ajv2020 from 'ajv/dist/2020.js'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CASES } from './admin-openapi-cases'
import {
  adminBare,
  adminBareInProcess,
  adminInProcess,
  adminOverHttp,
  closeLocalStates,
  type Run,
} from './admin-support'
import { launchChromium, screenshot, watchProblems } from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'

const PEPPER = 'admin-http-test-pepper'
const ROOT_PASSWORD = 'root passphrase for the admin api'
const SLOW = { timeout: 240_000 }

let gateway: RunningGateway
let adminTokenValue: string

async function passwordToken(username: string, password: string): Promise<string> {
  const response = await fetch(`${gateway.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  })
  if (response.status !== 200)
    throw new Error(`login ${username}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { access_token: string }).access_token
}

/**
 * The CLI through the admin API, the token in the environment (argv would show it in ps). In this
 * process (support/admin-in-process.ts: runAdmin with this stdin and environment) unless `spawned`:
 * what these tests check is what the CLI sends and prints; a process each for the first command and
 * the refused token shows the same through a real process (stdin piped, exit status).
 */
function cli(args: readonly string[], stdin = '', spawned = false): Promise<Run> {
  const env = { GATEWAY_URL: gateway.origin, GATEWAY_ADMIN_TOKEN: adminTokenValue }
  return spawned ? adminOverHttp(args, { stdin, env }) : adminBareInProcess(args, { stdin, env })
}

beforeAll(async () => {
  gateway = await startGateway({
    prepare: (dir) => writeFile(join(dir, '.dev.vars'), `PASSWORD_PEPPER='${PEPPER}'\n`, { mode: 0o600 }),
  })
  // The first admin comes from the D1 form of the CLI (there is no admin yet to call the API), run
  // in this process: what it writes is the subject, not the process (admin-cli.test.ts has that).
  const created = await adminInProcess(
    join(gateway.dir, '.wrangler', 'state'),
    ['create-user', 'root', '--password-stdin', '--role', 'admin'],
    { stdin: ROOT_PASSWORD, env: { PASSWORD_PEPPER: PEPPER } },
  )
  expect(created.code, created.stderr).toBe(0)
  adminTokenValue = await passwordToken('root', ROOT_PASSWORD)
}, SLOW.timeout)

afterAll(async () => {
  await closeLocalStates()
  await gateway?.stop()
})

type Operation = {
  responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>
}
type Document = {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Record<string, unknown>> }
}

describe('the OpenAPI document', () => {
  let document: Document

  it('is served to admins only, and passes a real OpenAPI 3.1 validator', async () => {
    expect((await fetch(`${gateway.origin}/admin/openapi.json`)).status).toBe(401)
    const response = await fetch(`${gateway.origin}/admin/openapi.json`, {
      headers: { authorization: `Bearer ${adminTokenValue}` },
    })
    expect(response.status).toBe(200)
    document = (await response.json()) as Document
    const validator = new Validator()
    const result = await validator.validate(document as unknown as Record<string, unknown>)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
  })

  it('documents every operation the walk exercises, and each answers with a documented status and shape', async () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(CASES.map(([operation]) => operation).sort()).toEqual([...documented].sort())
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    const ctx = { origin: gateway.origin, admin: adminTokenValue, state: {} }
    for (const [operation, run] of CASES) {
      const [method = '', path = ''] = operation.split(' ')
      const spec = document.paths[path]?.[method.toLowerCase()]
      const response = await run(ctx)
      const status = String(response.status)
      expect(Object.keys(spec?.responses ?? {}), `${operation} answered ${status}`).toContain(status)
      const type = (response.headers.get('content-type') ?? '').split(';')[0] ?? ''
      const text = await response.text()
      const documentedBody = spec?.responses[status]?.content
      if (!documentedBody) continue
      expect(Object.keys(documentedBody), `${operation} ${status} content type`).toContain(type)
      let schema = documentedBody[type]?.schema ?? {}
      const ref = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop() : undefined
      if (ref) schema = document.components.schemas[ref] ?? {}
      if (type !== 'application/json') continue
      const validate = ajv.compile(schema)
      const valid = validate(JSON.parse(text))
      expect(validate.errors ?? [], `${operation} ${status}: ${text.slice(0, 300)}`).toEqual([])
      expect(valid).toBe(true)
    }
  }, 120_000)
})

describe('the CLI over HTTP (--url, GATEWAY_ADMIN_TOKEN)', () => {
  it('creates, lists, changes, disables, enables and revokes users, and shows what it did in the audit log', async () => {
    const created = await cli(
      ['create-user', 'cli-remote', '--password-stdin', '--role', 'user'],
      'cli remote passphrase 9',
      true,
    )
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
    const token = await passwordToken('cli-remote', 'cli remote passphrase 9')

    const listed = await cli(['users', '--query', 'cli-remote', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({
      username: 'cli-remote',
      roles: ['user'],
      disabled: false,
    })
    const table = await cli(['users'])
    expect(table.stdout).toMatch(/^USERNAME\s+ID\s+ROLES\s+STATUS/)
    expect(table.stdout).toMatch(/cli-remote\s+\S+\s+user\s+active/)

    expect((await cli(['set-roles', 'cli-remote', 'editor'])).code).toBe(0)
    const email = await cli(['set-email', 'cli-remote', 'CLI.Remote@EXAMPLE.com', '--verified'])
    expect(email.code, email.stderr).toBe(0)
    expect(email.stdout).toMatch(
      /^set the email address of cli-remote \(id \S+\) to CLI\.Remote@example\.com \(verified\)\n$/,
    )
    expect(JSON.parse((await cli(['users', '--query', 'cli-remote', '--json'])).stdout.trim())).toMatchObject(
      {
        email: 'CLI.Remote@example.com',
        email_verified: true,
      },
    )
    const disabled = await cli(['disable', 'cli-remote'])
    expect(disabled.code, disabled.stderr).toBe(0)
    const me = await fetch(`${gateway.origin}/auth/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(401)
    expect((await cli(['enable', 'cli-remote'])).code).toBe(0)
    expect((await cli(['revoke-user', 'cli-remote'])).stdout).toContain(
      'revoked every session and API key of cli-remote',
    )

    const key = await cli(['create-api-key', 'cli-remote', '--name', 'remote key'])
    expect(key.code, key.stderr).toBe(0)
    expect(key.stdout).toMatch(/^id: [0-9a-f]{16}\nkey: gwk_/)
    const client = await cli(['create-client', 'cli-remote-client', '--scope', 'read'])
    expect(client.stdout).toMatch(/client_secret: gws_/)

    const events = await cli(['audit', '--type', 'user_disabled', '--json'])
    expect(events.code, events.stderr).toBe(0)
    const lines = events.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.at(-1)).toMatchObject({ type: 'user_disabled', details: {} })
    const all = await cli(['audit', '--limit', '200'])
    expect(all.stdout).toMatch(/^AT\s+TYPE\s+OUTCOME/)
    for (const type of ['user_created', 'roles_changed', 'user_enabled', 'api_key_created', 'client_created'])
      expect(all.stdout).toContain(type)
    expect(all.stdout).not.toMatch(/gwk_|gws_|passphrase/)
  }, 120_000)

  it('users and audit also read D1 directly (no --url), the same rows the gateway wrote', async () => {
    const state = join(gateway.dir, '.wrangler', 'state')
    const users = await adminInProcess(state, ['users', '--query', 'cli-remote', '--json'])
    expect(users.code, users.stderr).toBe(0)
    expect(JSON.parse(users.stdout.trim())).toMatchObject({ username: 'cli-remote' })
    const events = await adminInProcess(state, ['audit', '--type', 'roles_changed', '--json'])
    expect(events.code, events.stderr).toBe(0)
    const last = JSON.parse(events.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
    expect(last).toMatchObject({ type: 'roles_changed', details: { to: ['editor'] } })
    expect(String(last.at)).toMatch(/^\d{4}-\d\d-\d\dT/)
    // The D1 form records its own changes: the first admin, created before any API existed.
    const created = await adminInProcess(state, ['audit', '--type', 'user_created', '--json'])
    const first = JSON.parse(created.stdout.trim().split('\n')[0] ?? '{}') as Record<string, unknown>
    expect(first).toMatchObject({
      type: 'user_created',
      actor_id: null,
      user_agent: 'npm run admin (D1)',
      details: { username: 'root', roles: ['admin'], via: 'cli' },
    })
    const table = await adminInProcess(state, ['audit', '--limit', '3'])
    expect(table.stdout).toMatch(/^AT\s+TYPE/)
  }, 120_000)

  it('refuses a non-admin token with the gateway error and exit code 1; --help documents --url', async () => {
    const created = await cli(['create-user', 'cli-plain', '--password-stdin'], 'cli plain passphrase 7')
    expect(created.code).toBe(0)
    const plain = await passwordToken('cli-plain', 'cli plain passphrase 7')
    const refused = await adminOverHttp(['users'], {
      env: { GATEWAY_URL: gateway.origin, GATEWAY_ADMIN_TOKEN: plain },
    })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('admin API: forbidden')
    expect(refused.stderr).not.toContain(plain)
    const help = await adminBare(['audit', '--help'])
    expect(help.stdout).toContain('--url URL')
    expect(help.stdout).toContain('--follow')
  }, 60_000)
})

describe('the admin page in Chromium', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('signs in as admin, disables a user, and shows the event', async () => {
    const made = await cli(['create-user', 'page-victim', '--password-stdin'], 'page victim passphrase 3')
    expect(made.code).toBe(0)
    const context = await browser.newContext()
    const problems = await watchProblems(context)
    const page = await context.newPage()
    await page.goto(`${gateway.origin}/admin`)
    expect(new URL(page.url()).pathname).toBe('/auth/login')
    await page.fill('#username', 'root')
    await page.fill('#password', ROOT_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL(`${gateway.origin}/admin`)
    const row = page.locator('tr[data-user="page-victim"]')
    await expect.poll(() => row.textContent()).toContain('active')
    await row.getByRole('button', { name: /Disable/ }).click()
    await page.waitForURL(`${gateway.origin}/admin`)
    expect(await page.locator('tr[data-user="page-victim"]').textContent()).toContain('disabled')
    // The event is written after the response; a reload or two shows it.
    await expect
      .poll(
        async () => {
          await page.reload()
          return page.locator('tr[data-event="user_disabled"]').count()
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0)
    await screenshot(page, 'admin-page-disabled')
    expect(problems.take().filter((problem) => !/favicon\.ico/.test(problem))).toEqual([])
    const docs = await page.goto(`${gateway.origin}/admin/docs`)
    expect(docs?.status()).toBe(200)
    expect(await page.locator('body').textContent()).toContain('/admin/users/{id}/revoke')
    await context.close()
  }, 90_000)
})
