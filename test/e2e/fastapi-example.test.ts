/**
 * examples/fastapi behind the real gateway, the way docs/openapi-routes.md's walkthrough has a new
 * user run it with Debian's packages (python3-fastapi 0.92, python3-uvicorn, python3-jwt; .ci/run
 * installs them; without them this file fails, it never skips). The walkthrough's two marked
 * blocks run literally: in a fresh copy of the project, the app's own OpenAPI export, the import
 * into wrangler.toml, role_scopes and `routes check`; then, against the gateway (`npm start`) and
 * the app (uvicorn), started as the docs say but on free ports, users, tokens, an API key and a
 * few calls. This file then calls every operation as anonymous, user, admin and API-key holder
 * and compares each status with the security the exported document declares, weakens one route to
 * see `routes check` fail, and sends the app assertions it must refuse (none, forged, expired).
 *
 * Time budget: 60 s on 2 cores, about 35 s measured: one gateway (most of it), one uvicorn, the
 * walkthrough's CLI calls (import, check, create-user, explain) and the weakened check, which runs
 * beside the calls.
 */
import { execFile } from 'node:child_process'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devVar } from '../../scripts/lib/dev-vars'
import { freePort } from '../../scripts/lib/ports'
import {
  PYTHON,
  type RunningApp,
  requirePythonPackages,
  startFastApiApp,
  UVICORN_ARGS,
} from './support/fastapi-app'
import { type RunningGateway, startGateway } from './support/gateway'
import { PROJECT_ROOT } from './support/project-copy'
import {
  expectStepOutcomes,
  extractWalkthrough,
  parseSteps,
  runWalkthrough,
  type StepResult,
  type WalkthroughStep,
} from './support/walkthrough'

const require = createRequire(import.meta.url)
const TSX_CLI = require.resolve('tsx/cli')
const EXAMPLE = 'examples/fastapi'
const DOCUMENT = `${EXAMPLE}/openapi.json`
const WALKTHROUGH = 'docs/openapi-routes.md'

type Requirement = Record<string, string[]>
interface Operation {
  security?: Requirement[]
  'x-gateway-roles'?: string[]
  responses: Record<string, unknown>
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, { type: string }> }
}

let markdown: string
let app: RunningApp | undefined
let gateway: RunningGateway | undefined
let exported: OpenApi
let setup: StepResult[]
let calls: StepResult[]
let weakened: { code: number; stdout: string; stderr: string }
let credentials: { userToken: string; adminToken: string; apiKey: string }

// After the walkthrough's calls: what its variables hold, for the grid below.
const PRINT_CREDENTIALS: WalkthroughStep = {
  number: 0,
  source: 'printf "%s\\n" "$USER_TOKEN" "$ADMIN_TOKEN" "$API_KEY"',
  expectations: [],
}

function routesCheck(dir: string, config: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX_CLI, 'scripts/routes.ts', 'check', DOCUMENT, '--config', config],
      { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/** The gateway's table with the admin-only DELETE opened to any holder of the scope. */
async function weakenedConfig(dir: string): Promise<string> {
  const toml = await readFile(join(dir, 'wrangler.toml'), 'utf8')
  const weaker = toml.replace(/(methods = \["DELETE"\]\n[^[]*?)roles = \["admin"\]\n/, '$1')
  if (weaker === toml) throw new Error('no admin-only DELETE route in the imported table')
  await writeFile(join(dir, 'weakened.toml'), weaker)
  return 'weakened.toml'
}

beforeAll(async () => {
  await requirePythonPackages()
  markdown = await readFile(join(PROJECT_ROOT, WALKTHROUGH), 'utf8')
  const gatewayPort = await freePort()
  const gatewayOrigin = `http://127.0.0.1:${gatewayPort}`
  // gateway_auth.py: the assertion's issuer (and where its JWKS is), and the app's own origin as
  // the gateway names it (the assertion's audience).
  app = await startFastApiApp(join(PROJECT_ROOT, EXAMPLE), (origin) => ({
    GATEWAY_ISSUER: gatewayOrigin,
    UPSTREAM_ORIGIN: origin,
  }))
  const upstreamUrl = app.origin
  gateway = await startGateway({
    port: gatewayPort,
    upstreamUrl,
    prepare: async (dir) => {
      await cp(join(PROJECT_ROOT, EXAMPLE), join(dir, EXAMPLE), { recursive: true })
      const steps = parseSteps(extractWalkthrough(markdown, 'fastapi-setup'))
      setup = await runWalkthrough(steps, process.env, 90_000, dir)
    },
  })
  const dir = gateway.dir
  exported = JSON.parse(await readFile(join(dir, DOCUMENT), 'utf8')) as OpenApi
  const steps = parseSteps(extractWalkthrough(markdown, 'fastapi-calls'))
  const env = { ...process.env, GATEWAY: gateway.origin, APP: upstreamUrl }
  const [results, check] = await Promise.all([
    runWalkthrough([...steps, PRINT_CREDENTIALS], env, 90_000, dir),
    weakenedConfig(dir).then((config) => routesCheck(dir, config)),
  ])
  calls = results.slice(0, -1)
  weakened = check
  const [userToken, adminToken, apiKey] = (results.at(-1)?.stdout ?? '').trim().split('\n')
  credentials = { userToken: userToken ?? '', adminToken: adminToken ?? '', apiKey: apiKey ?? '' }
})

afterAll(async () => {
  await app?.stop()
  await gateway?.stop()
})

describe('the walkthrough in docs/openapi-routes.md, with Debian packages', () => {
  it('exports the document from the app: same security as the committed openapi.json', async () => {
    const committed = JSON.parse(await readFile(join(PROJECT_ROOT, DOCUMENT), 'utf8')) as OpenApi
    const declared = (document: OpenApi) => ({
      schemes: document.components.securitySchemes,
      operations: Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item).map(([method, op]) => [method, path, op.security, op['x-gateway-roles']]),
      ),
    })
    expect(declared(exported)).toEqual(declared(committed))
    expect(declared(exported).operations).toHaveLength(9)
  })

  it('starts the app and the gateway as it says, on its ports (the test: free ones)', () => {
    expect(markdown).toContain(`cd examples/fastapi && ${PYTHON} ${UVICORN_ARGS.join(' ')} 8000\n`)
    expect(markdown).toContain('UPSTREAM_URL=http://127.0.0.1:8000 npm start\n')
  })

  it('imports nine routes into wrangler.toml and grants the scopes; routes check passes', async () => {
    const shipped = await readFile(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8')
    const configured = await readFile(join(gateway?.dir ?? '', 'wrangler.toml'), 'utf8')
    const routes = (toml: string) => toml.match(/^\[\[vars\.ROUTES\]\]$/gm)?.length ?? 0
    expect(routes(configured)).toBe(routes(shipped) + 9)
    expect(configured).toMatch(/^role_scopes = \{ user = \["read", "me", "items"\],/m)
    // Each command ran under `set -e`: a failing check-config or routes check fails the setup.
    expectStepOutcomes(setup)
  })

  it('each call has the outcome its "# expect" lines state', () => {
    expect(calls.length).toBeGreaterThanOrEqual(10)
    expectStepOutcomes(calls)
  })
})

type Kind = 'none' | 'jwt' | 'api_key'
interface Caller {
  name: string
  kind: Kind
  headers: () => Record<string, string>
  /** The token's or key's scopes, and the roles after the hierarchy (admin > editor > user). */
  scopes: string[]
  roles: string[]
}

const CALLERS: Caller[] = [
  { name: 'anonymous', kind: 'none', headers: () => ({}), scopes: [], roles: [] },
  {
    name: 'user',
    kind: 'jwt',
    headers: () => ({ authorization: `Bearer ${credentials.userToken}` }),
    scopes: ['me', 'items'],
    roles: ['user'],
  },
  {
    name: 'admin',
    kind: 'jwt',
    headers: () => ({ authorization: `Bearer ${credentials.adminToken}` }),
    scopes: ['me', 'items'],
    roles: ['admin', 'editor', 'user'],
  },
  {
    name: 'api-key holder',
    kind: 'api_key',
    headers: () => ({ 'x-api-key': credentials.apiKey }),
    scopes: ['me', 'items'],
    roles: ['user'],
  },
]

/** What the declared security lets `caller` get: success, or the gateway's 401/403. */
function declaredStatus(op: Operation, caller: Caller): number {
  const success = Number(Object.keys(op.responses).find((code) => code.startsWith('2')))
  const { security } = op
  if (security === undefined) return 403 // declares nothing: imported as deny (the default)
  if (security.length === 0 || security.some((r) => Object.keys(r).length === 0)) return success
  if (caller.kind === 'none') return 401
  const kindOf = (scheme: string): Kind =>
    exported.components.securitySchemes[scheme]?.type === 'apiKey' ? 'api_key' : 'jwt'
  const ways = security.filter((r) => Object.keys(r).every((scheme) => kindOf(scheme) === caller.kind))
  if (ways.length === 0) return 401 // the route reads no credential of this kind
  const scopesHeld = (r: Requirement) =>
    Object.values(r).every((scopes) => scopes.every((s) => caller.scopes.includes(s)))
  if (!ways.some(scopesHeld)) return 403
  const roles = op['x-gateway-roles']
  if (roles && !roles.some((role) => caller.roles.includes(role))) return 403
  return success
}

describe('every operation, for every kind of caller', () => {
  it('gets the status its declared security gives; refusals come from the gateway', async () => {
    const cells = Object.entries(exported.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, op]) => CALLERS.map((caller) => ({ path, method, op, caller }))),
    )
    expect(cells).toHaveLength(9 * CALLERS.length)
    const outcomes = await Promise.all(
      cells.map(async ({ path, method, op, caller }) => {
        // Item 1 is read, item 2 deleted (DELETE is idempotent in the app).
        const sample = path.replace(/\{[^}]+\}/g, method === 'delete' ? '2' : '1')
        const response = await fetch(`${gateway?.origin}${sample}`, {
          method: method.toUpperCase(),
          headers: caller.headers(),
        })
        const text = await response.text()
        const expected = declaredStatus(op, caller)
        // The gateway's error body ({error, error_description, request_id}), not the app's {detail}.
        const refusedByApp = !response.ok && !/"request_id"/.test(text)
        const cell = `${method.toUpperCase()} ${path} as ${caller.name}`
        return { cell, status: response.status, expected, refusedByApp }
      }),
    )
    expect(outcomes.filter((o) => o.status !== o.expected)).toEqual([])
    expect(outcomes.filter((o) => o.refusedByApp)).toEqual([])
    expect(new Set(outcomes.map((o) => o.status))).toEqual(new Set([200, 204, 401, 403]))
  })

  it('the app sees the caller the gateway vouched for', async () => {
    const response = await fetch(`${gateway?.origin}/users/me`, { headers: CALLERS[2]?.headers() })
    expect(await response.json()).toMatchObject({ username: 'root', roles: ['admin'] })
  })
})

describe('routes check in CI', () => {
  it('fails (exit 1) once the test weakens the admin-only DELETE route, naming it', () => {
    expect(weakened.code, weakened.stderr).toBe(1)
    expect(weakened.stdout).toMatch(
      /^weaker +DELETE \/items\/\{item_id\} \(delete_item_items__item_id__delete\) → ROUTES\[\d+\] \/items\/\{item_id\}: declared .*role admin; configured /m,
    )
  })
})

describe("the app's own check of X-Auth-Assertion", () => {
  async function assertion(key: JWK, lifetime: { iat: number; exp: number }, signer?: CryptoKey) {
    const alg = key.alg ?? 'ES256'
    return new SignJWT({ username: 'root', roles: ['admin'], scope: 'me items', auth_method: 'jwt' })
      .setProtectedHeader({ alg, kid: key.kid, typ: 'gateway-assertion+jwt' })
      .setIssuer(gateway?.origin ?? '')
      .setAudience(app?.origin ?? '')
      .setSubject('assertion-test')
      .setIssuedAt(lifetime.iat)
      .setExpirationTime(lifetime.exp)
      .sign(signer ?? (await importJWK(key, alg)))
  }

  async function toApp(headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${app?.origin}/users/me`, { headers })
    return { status: response.status, body: await response.json() }
  }

  it('refuses a request straight to the app, a forged assertion and an expired one (401 from the app)', async () => {
    const devVars = await readFile(join(gateway?.dir ?? '', '.dev.vars'), 'utf8')
    const [gatewayKey] = (JSON.parse(devVar(devVars, 'SIGNING_KEYS') ?? '{}') as { keys: JWK[] }).keys
    if (!gatewayKey) throw new Error("no SIGNING_KEYS in the gateway copy's .dev.vars")
    const now = Math.floor(Date.now() / 1000)
    const fresh = { iat: now, exp: now + 60 }
    const send = (token: string) => toApp({ 'x-auth-assertion': token })
    const refused = { status: 401, body: { detail: 'invalid gateway assertion' } }

    // The control: signed with the gateway's key, in date: the app accepts it.
    expect(await send(await assertion(gatewayKey, fresh))).toMatchObject({ status: 200 })
    expect(await toApp({ 'x-auth-user': 'root', 'x-auth-roles': 'admin' })).toEqual({
      status: 401,
      body: { detail: 'no gateway assertion' },
    })
    // Same kid, another key: the app's cached JWKS key does not verify it.
    const forger = await generateKeyPair(gatewayKey.alg ?? 'ES256')
    expect(await send(await assertion(gatewayKey, fresh, forger.privateKey))).toEqual(refused)
    expect(await send(await assertion(gatewayKey, { iat: now - 180, exp: now - 120 }))).toEqual(refused)
  })
})
