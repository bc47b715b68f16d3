/**
 * `npm run routes -- explain` against a running gateway (`npm start`): the CLI's answer for a
 * request and the gateway's answer to the same request sent for real agree.
 *
 * Time budget: ~12 s on a 2-core machine (seven CLI processes against the run's shared gateway,
 * support/shared-gateway.ts, ~15 s more if it is the first file to ask). Measured 21 s at load 3
 * with a gateway of its own and the set-up's CLI as a process.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminInProcess, closeLocalStates } from './admin-support'
import type { RunningGateway } from './support/gateway'
import { PROJECT_ROOT } from './support/project-copy'
import { type Run, runProcess, TSX_CLI } from './support/run-process'
import { sharedGateway } from './support/shared-gateway'

const PASSWORD = 'explain e2e passphrase 1'
const SLOW = { timeout: 240_000 }

let gateway: RunningGateway
let adminToken: string
let readerToken: string

async function token(username: string): Promise<string> {
  const response = await fetch(`${gateway.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD }),
  })
  if (response.status !== 200)
    throw new Error(`login ${username}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { access_token: string }).access_token
}

async function register(username: string): Promise<void> {
  const response = await fetch(`${gateway.origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
  if (response.status !== 201) throw new Error(`register ${username}: ${response.status}`)
}

beforeAll(async () => {
  gateway = await sharedGateway()
  await register('explain-boss')
  await register('explain-reader')
  // In this process: the set-up is a D1 row, not the CLI's process (admin-cli.test.ts has that).
  const roles = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), [
    'set-roles',
    'explain-boss',
    'admin',
  ])
  expect(roles.code, roles.stderr).toBe(0)
  adminToken = await token('explain-boss')
  readerToken = await token('explain-reader')
}, SLOW.timeout)

afterAll(async () => {
  await closeLocalStates()
})

/** `npm run routes -- <args>`, as tsx runs it. */
function runRoutes(args: string[]): Promise<Run> {
  return runProcess(process.execPath, [TSX_CLI, 'scripts/routes.ts', ...args], { cwd: PROJECT_ROOT })
}

describe('routes explain against npm start', SLOW, () => {
  it.each([
    [
      'a user on the admin prefix (403 role)',
      '/api/admin/users',
      'reader',
      403,
      'missing role: needs one of admin',
    ],
    ['a user on /api (allowed)', '/api/things', 'reader', 200, 'the principal satisfies the rule: forwarded'],
    ['no credentials on /api (401)', '/api/things', 'none', 401, 'This route requires credentials.'],
    ['an unrouted path (404)', '/nowhere', 'reader', 404, 'No route matches this path.'],
  ])('%s', async (_name, path, who, status, reason) => {
    const credential = who === 'reader' ? ['--token', readerToken] : []
    const result = await runRoutes([
      'explain',
      'GET',
      path,
      ...credential,
      '--url',
      gateway.origin,
      '--admin-token',
      adminToken,
      '--json',
    ])
    expect(result.code, result.stderr).toBe(0)
    const answer = JSON.parse(result.stdout) as { decision: { status: number }; reason: string }
    expect(answer.decision.status).toBe(status)
    expect(answer.reason).toBe(reason)
    expect(result.stdout).not.toContain(readerToken)
    const real = await fetch(`${gateway.origin}${path}`, {
      headers: who === 'reader' ? { authorization: `Bearer ${readerToken}` } : {},
    })
    await real.arrayBuffer()
    expect(real.status).toBe(status)
  })

  it('prints a summary naming the route and the rule', async () => {
    const result = await runRoutes([
      'explain',
      'GET',
      '/api/admin/x',
      '--token',
      readerToken,
      '--url',
      gateway.origin,
      '--admin-token',
      adminToken,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^route: +ROUTES\[1\] \/api\/admin \(prefix\)$/m)
    expect(result.stdout).toMatch(
      /^ +beat ROUTES\[2\] \/api: at segment 2 it has a literal segment, the other nothing \(below its prefix\)$/m,
    )
    expect(result.stdout).toMatch(/^decision: +refuse 403 forbidden$/m)
  })

  it("fails with the gateway's answer when the admin token is not an admin's", async () => {
    const result = await runRoutes([
      'explain',
      'GET',
      '/api',
      '--url',
      gateway.origin,
      '--admin-token',
      readerToken,
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/answered 403/)
  })
})
