import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { generateDataJwk } from '../../src/config/data-keys'
import { uuidv7 } from '../../src/crypto/uuid7'
import { type BenchAccount, createBenchAccount } from './accounts'
import { buildGateway, bundleWorker, type GatewayBundle, workerdBinary } from './build'
import { CODE_CLIENT_ID, codeLogin, registerCodeClient } from './code-exchange'
import { seedColdApiKeys } from './cold-credentials'
import { benchSettings, ROUTE_TABLE_SIZE, routeTable } from './gateway-setup'
import { type HaproxyPeer, startHaproxy } from './haproxy'
import { BENCH_DIR, PROJECT_DIR, ROOT_DIR, WORK_DIR } from './paths'
import { cpuSeconds, freePort, type Service } from './processes'
import {
  BASELINE_IDS,
  baselineScenario,
  type ColdMinters,
  defineScenarios,
  ITEM_PATH,
  MCP_PATH,
  RATE_LIMITED_ADDRESS,
  type RequestFiles,
  referenceScenario,
  type Scenario,
} from './scenarios'
import {
  AccessTokenMinter,
  ExternalIdp,
  generateSigningKeys,
  revokedJtiKey,
  type SigningKeys,
  tamperSignature,
} from './tokens'
import { startUpstream, type Upstream } from './upstream'
import { type Binding, startWorkerd, type WorkerService, writeWorkerdConfig } from './workerd'

const SERVICES = [
  'hello',
  'storage-probe',
  'bare',
  'naive',
  'gw',
  'gw-routes',
  'gw-denylist',
  'gw-reference',
  'gw-passkey',
  'pbkdf2',
  'kv-main',
  'kv-denylist',
  'd1',
  'gw-storm',
  'gw-storm-off',
  'kv-storm',
  'd1-storm',
] as const
export type ServiceName = (typeof SERVICES)[number]

const STEADY_TOKENS = 1000
/** The storm's D1: ms per statement on its single writer, and the queued work past which it is overloaded. */
export const STORM_D1 = { statementCostMs: 1, queueLimitMs: 1000 }
export const TOKEN_SUBJECTS = 100
const DENYLIST_SIZE = 100_000
/** Never-seen API keys for `api-key-cold` (its rounds and its stage profile take ~20,000 here). */
const COLD_API_KEYS = 40_000
const LOGINS = 10

export interface BenchEnvironment {
  bundle: GatewayBundle
  workerd: { version: string; service: Service }
  upstream: Upstream
  haproxy?: HaproxyPeer
  baseline: Scenario
  scenarios: Scenario[]
  /** ES256 steady on `gw-reference`: what the 1,000-route and denylist gateways are compared with. */
  reference: Scenario
  account: BenchAccount
  minter: AccessTokenMinter
  files: RequestFiles
  origin(name: ServiceName): string
  /** Every Worker of the run as configured (the cold-start measurement reuses them). */
  workers: WorkerService[]
  /** workerd's inspector port (stage profile, soak heap readings), when one was asked for. */
  inspectorPort?: number
  /** The DATA_KEYS secret every gateway of the run has (seeding sealed values, e.g. TOTP secrets). */
  dataKeys: string
  /** ISSUER of `gw-passkey`: a domain (localhost), as passkeys need; the other gateways' is an IP. */
  passkeyIssuer: string
  /** Lines of a unique scenario's file written whole at seeding (the cold API keys), by file. */
  seededUnique: Map<string, number>
}

export interface EnvironmentOptions {
  log(message: string): void
  /** Passed to workerd as --inspector-addr (for bench/profile.ts). */
  inspectorPort?: number
  /** Scenario ids to keep (BENCH_ONLY); all when undefined. */
  only?: readonly string[]
  /** The storm's rate-limit counting: Cloudflare's sliding estimate (default) or wrangler dev's fixed windows. */
  stormCounting?: 'sliding' | 'fixed'
}

function selectScenarios(all: Scenario[], only: readonly string[] | undefined): Scenario[] {
  if (!only) return all
  const unknown = only.filter(
    (id) => !BASELINE_IDS.includes(id) && !all.some((scenario) => scenario.id === id),
  )
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${all.map((s) => s.id).join(', ')}`)
  return all.filter((scenario) => only.includes(scenario.id))
}

const bearer = (token: string) => `Authorization: Bearer ${token}`

export async function writeRequests(name: string, lines: string[]): Promise<string> {
  const file = join(WORK_DIR, 'requests', `${name}.txt`)
  await writeFile(file, `${lines.join('\n')}\n`)
  return file
}

export function bearerLines(tokens: readonly string[]): string[] {
  return tokens.map(bearer)
}

async function readMigrations(): Promise<string[]> {
  const dir = join(PROJECT_DIR, 'migrations')
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort()
  return Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')))
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`)
  await response.body?.cancel()
}

async function buildAll() {
  const worker = (name: string) => bundleWorker(join(BENCH_DIR, 'workers', `${name}.ts`), name)
  const [bundle, hello, passThrough, kvMemory, d1Sqlite, pbkdf2, naiveHono, storageProbe, rateLimit] =
    await Promise.all([
      buildGateway(),
      worker('hello'),
      worker('pass-through'),
      worker('kv-memory'),
      worker('d1-sqlite'),
      worker('pbkdf2'),
      bundleWorker(join(BENCH_DIR, 'peers', 'naive-hono.ts'), 'naive-hono'),
      worker('storage-probe'),
      worker('ratelimit-binding'),
    ])
  return {
    bundle,
    modules: { hello, passThrough, kvMemory, d1Sqlite, pbkdf2, naiveHono, storageProbe, rateLimit },
  }
}

interface Composition {
  bundle: GatewayBundle
  modules: Awaited<ReturnType<typeof buildAll>>['modules']
  keys: SigningKeys
  dataKeys: string
  issuer: string
  /** ISSUER of `gw-passkey`. */
  passkeyIssuer: string
  /** ISSUER of both storm gateways. */
  stormIssuer: string
  /** How the storm gateway's rate-limit bindings count (bench/workers/ratelimit-binding.ts). */
  stormCounting: 'sliding' | 'fixed'
  audience: string
  upstream: Upstream
  settings: Record<string, unknown>
  /** wrangler.toml's route table. */
  shippedRoutes: unknown[]
}

/** Every Worker of the run: three gateway instances, the baseline, the peers and the simulators. */
async function composeWorkers(c: Composition): Promise<WorkerService[]> {
  const compat = {
    compatibilityDate: c.bundle.compatibilityDate,
    compatibilityFlags: c.bundle.compatibilityFlags,
  }
  const gateway = (
    name: string,
    kv: string,
    routes: unknown[],
    issuer = c.issuer,
    storm?: { d1: string; rateLimiting: 'on' | 'off' },
  ): WorkerService => {
    // wrangler.toml's vars as they are, then what the harness sets (as `wrangler dev --var` would).
    const set = ['ISSUER', 'UPSTREAM_URL', 'SETTINGS', 'ROUTES', ...(storm ? ['RATE_LIMITING'] : [])]
    const bindings: Binding[] = Object.entries(c.bundle.vars)
      .filter(([key]) => !set.includes(key))
      .map(([key, value]) =>
        typeof value === 'string' ? { name: key, text: value } : { name: key, json: value },
      )
    // Only the storm's gateways get wrangler.toml's [[ratelimits]]: the other scenarios' seeding
    // (dozens of registrations and sign-ins in seconds) would trip them. Without them the layer
    // admits everything (it fails open) and D1's throttle is the limit, as before the layer.
    if (storm) {
      bindings.push({ name: 'RATE_LIMITING', text: storm.rateLimiting })
      for (const { name: binding, ...entry } of c.bundle.ratelimits)
        bindings.push({
          name: binding,
          ratelimit: { ...entry, module: c.modules.rateLimit, counting: c.stormCounting },
        })
    }
    bindings.push(
      { name: 'KV', kv },
      { name: 'DB', d1: storm?.d1 ?? 'd1' },
      { name: 'ISSUER', text: issuer },
      { name: 'UPSTREAM_URL', text: c.upstream.origin },
      { name: 'SETTINGS', json: c.settings },
      { name: 'ROUTES', json: routes },
      { name: 'SIGNING_KEYS', text: c.keys.secret },
      { name: 'DATA_KEYS', text: c.dataKeys },
    )
    return { name, module: c.bundle.file, ...compat, bindings, network: true }
  }
  const upstreamBinding: Binding = { name: 'UPSTREAM_URL', text: c.upstream.origin }
  const migrations = await readMigrations()
  // A SQLite Durable Object with the migrations applied, in bench/.work/<name>/.
  const d1 = (name: string, settings: Binding[] = []): WorkerService => ({
    name,
    module: c.modules.d1Sqlite,
    ...compat,
    bindings: [
      { name: 'DATABASE', durableObject: 'BenchDatabase' },
      { name: 'MIGRATIONS', json: migrations },
      ...settings,
    ],
    sqliteObject: { className: 'BenchDatabase', directory: join(WORK_DIR, name) },
  })
  return [
    { name: 'hello', module: c.modules.hello, ...compat },
    {
      name: 'storage-probe',
      module: c.modules.storageProbe,
      ...compat,
      bindings: [
        { name: 'KV', kv: 'kv-main' },
        { name: 'DB', d1: 'd1' },
        // The storm gateways' binding module, with a limit no run reaches: every call admitted.
        {
          name: 'RATE_LIMIT',
          ratelimit: {
            module: c.modules.rateLimit,
            namespace: '9999',
            limit: 1_000_000_000,
            period: 60,
            counting: c.stormCounting,
          },
        },
      ],
    },
    { name: 'bare', module: c.modules.passThrough, ...compat, network: true, bindings: [upstreamBinding] },
    {
      name: 'naive',
      module: c.modules.naiveHono,
      ...compat,
      network: true,
      bindings: [
        upstreamBinding,
        { name: 'PUBLIC_JWK', text: JSON.stringify(c.keys.publicJwk) },
        { name: 'ISSUER', text: c.issuer },
        { name: 'AUDIENCE', text: c.audience },
      ],
    },
    gateway('gw', 'kv-main', routeTable(c.shippedRoutes)),
    gateway('gw-routes', 'kv-main', routeTable(c.shippedRoutes, ROUTE_TABLE_SIZE)),
    gateway('gw-denylist', 'kv-denylist', routeTable(c.shippedRoutes)),
    // The default gateway again, serving nothing but ES256 steady traffic like the two above, so
    // that the head-to-head comparisons differ in one thing only (not in what else the isolate ran).
    gateway('gw-reference', 'kv-main', routeTable(c.shippedRoutes)),
    // The default gateway once more, on a domain: passkeys need one (WebAuthn's RP ID cannot be an
    // IP address), and moving every gateway's ISSUER would change the tokens the scenarios send.
    gateway('gw-passkey', 'kv-main', routeTable(c.shippedRoutes), c.passkeyIssuer),
    // The storm's gateway, with the rate-limit layer and without (its switch), on one D1 whose
    // primary is a single writer at STORM_D1's cost per statement (in a workerd process of its
    // own, started by startEnvironment); one ISSUER, so that the device
    // cookies and tokens of one are the other's, as for two deployments of one configuration.
    gateway('gw-storm', 'kv-storm', routeTable(c.shippedRoutes), c.stormIssuer, {
      d1: 'd1-storm',
      rateLimiting: 'on',
    }),
    gateway('gw-storm-off', 'kv-storm', routeTable(c.shippedRoutes), c.stormIssuer, {
      d1: 'd1-storm',
      rateLimiting: 'off',
    }),
    { name: 'kv-storm', module: c.modules.kvMemory, ...compat },
    d1('d1-storm', [
      { name: 'STATEMENT_COST_MS', json: STORM_D1.statementCostMs },
      { name: 'QUEUE_LIMIT_MS', json: STORM_D1.queueLimitMs },
    ]),
    { name: 'pbkdf2', module: c.modules.pbkdf2, ...compat },
    { name: 'kv-main', module: c.modules.kvMemory, ...compat },
    { name: 'kv-denylist', module: c.modules.kvMemory, ...compat },
    d1('d1'),
  ]
}

/** Checks that revocation scenarios measure what they claim: the denylist and D1 are really consulted. */
async function probeRevocation(env: BenchEnvironment, minter: AccessTokenMinter): Promise<void> {
  const revokedJti = uuidv7()
  const strictJti = uuidv7()
  await post(`${env.origin('kv-denylist')}/__bench/seed`, { entries: [[revokedJtiKey(revokedJti), '1']] })
  await post(`${env.origin('d1')}/__bench/sql`, {
    sql: 'INSERT INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4)',
    params: [createHash('sha256').update(strictJti).digest('hex'), 'steady-1', 4_000_000_000, 1],
  })
  const status = async (url: string, token: string) => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    await response.body?.cancel()
    return response.status
  }
  const revoked = minter.mint('steady-0', revokedJti)
  const strictOnly = minter.mint('steady-1', strictJti)
  const probes = {
    'denylisted jti on the 100k-denylist gateway (401)': await status(
      env.origin('gw-denylist') + ITEM_PATH,
      revoked,
    ),
    'same token where KV does not list it (200)': await status(env.origin('gw') + ITEM_PATH, revoked),
    'jti revoked only in D1, strict route (401)': await status(
      `${env.origin('gw')}/bench/strict/items?id=42`,
      strictOnly,
    ),
    'jti revoked only in D1, default route (200)': await status(env.origin('gw') + ITEM_PATH, strictOnly),
  }
  const expected = [401, 200, 401, 200]
  if (Object.values(probes).some((value, i) => value !== expected[i]))
    throw new Error(`revocation probes failed: ${JSON.stringify(probes)}`)
}

/**
 * Checks that the MCP scenarios measure what they claim: the route binds tokens to its resource
 * (a token for the gateway's own audience is refused) and reads the body (a lying Mcp-Name is).
 */
async function probeMcp(env: BenchEnvironment, minter: AccessTokenMinter, mcpToken: string): Promise<void> {
  const scenario = env.scenarios.find((candidate) => candidate.id === 'mcp-tools-call')
  if (!scenario?.post) return
  const { headers, body } = scenario.post
  const status = async (extra: Record<string, string>) => {
    const response = await fetch(scenario.url, { method: 'POST', headers: { ...headers, ...extra }, body })
    await response.body?.cancel()
    return response.status
  }
  const probes = {
    "token for the gateway's own audience (401)": await status({
      authorization: `Bearer ${minter.mint('steady-0')}`,
    }),
    'Mcp-Name that the body contradicts (400)': await status({
      authorization: `Bearer ${mcpToken}`,
      'mcp-method': 'tools/call',
      'mcp-name': 'delete_order',
    }),
  }
  if (Object.values(probes).some((value, i) => value !== [401, 400][i]))
    throw new Error(`MCP probes failed: ${JSON.stringify(probes)}`)
}

/**
 * Checks that the delegated scenario sends what it claims: tokens shaped as the code exchange's, of
 * the bench's client and not first-party (src/authz/principal.ts isDelegated).
 */
function probeDelegated(minter: AccessTokenMinter): void {
  const { client_id: clientId, first_party: firstParty } = minter.claims
  if (clientId !== CODE_CLIENT_ID || firstParty !== undefined)
    throw new Error(
      `delegated probe failed: client_id ${String(clientId)}, first_party ${String(firstParty)}`,
    )
}

/**
 * Fills the `/auth/token` limit of the rate-limited scenario's address (the binding answers 429
 * from then on); a request it admits answers 400 (no grant_type). Before the preflight, which
 * expects the 429.
 */
async function fillTokenLimit(scenario: Scenario | undefined): Promise<void> {
  if (!scenario?.post) return
  for (let i = 0; i < 500; i++) {
    const response = await fetch(scenario.url, {
      method: 'POST',
      headers: { ...scenario.post.headers, 'CF-Connecting-IP': RATE_LIMITED_ADDRESS },
      body: scenario.post.body,
    })
    await response.body?.cancel()
    if (response.status === 429) return
    if (response.status !== 400)
      throw new Error(`rate-limited: an admitted request answered ${response.status}, expected 400`)
  }
  throw new Error('rate-limited: 500 requests from one address, none refused: is the binding wired?')
}

function headerOf(line: string): Record<string, string> {
  const colon = line.indexOf(':')
  return colon > 0 ? { [line.slice(0, colon)]: line.slice(colon + 1).trim() } : {}
}

/** One request per scenario before any load: a wrong status stops the run with the reason. */
async function preflight(scenario: Scenario): Promise<void> {
  const first = (await readFile(scenario.requestsFile, 'utf8')).split('\n')[0] ?? ''
  const { post } = scenario
  const response = await fetch(
    scenario.url,
    post
      ? { method: 'POST', headers: { ...post.headers, ...headerOf(first) }, body: post.body }
      : { headers: headerOf(first) },
  )
  const body = await response.text()
  if (response.status !== scenario.expectStatus) {
    throw new Error(
      `preflight ${scenario.id}: expected ${scenario.expectStatus}, got ${response.status}: ${body.slice(0, 300)}`,
    )
  }
}

/** Builds, starts and seeds everything a run needs, and checks each scenario once. */
export async function startEnvironment(options: EnvironmentOptions): Promise<BenchEnvironment> {
  const { log } = options
  await rm(WORK_DIR, { recursive: true, force: true })
  await mkdir(join(WORK_DIR, 'requests'), { recursive: true })
  await mkdir(join(WORK_DIR, 'd1'), { recursive: true })
  await mkdir(join(WORK_DIR, 'd1-storm'), { recursive: true })

  log('building the production bundle (wrangler deploy --dry-run) and the harness Workers ...')
  const { bundle, modules } = await buildAll()
  log(`  ${bundle.wranglerSummary}`)
  const keys = await generateSigningKeys()
  const idp = new ExternalIdp('https://idp.bench.invalid', 'bench-api')
  const upstream = await startUpstream(idp.jwks)

  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (name) => [name, await freePort()] as const)),
  ) as Record<ServiceName, number>
  const origin = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`
  const issuer = origin('gw')
  const passkeyIssuer = `http://localhost:${ports['gw-passkey']}`
  const dataKeys = JSON.stringify({ keys: [generateDataJwk()] })
  const shipped = (bundle.vars.SETTINGS ?? {}) as Record<string, unknown>
  const audience = typeof shipped.audience === 'string' ? shipped.audience : 'edge-auth-gateway'
  const ttlSeconds =
    typeof shipped.access_token_ttl_seconds === 'number' ? shipped.access_token_ttl_seconds : 900
  const workers = await composeWorkers({
    bundle,
    modules,
    keys,
    dataKeys,
    issuer,
    passkeyIssuer,
    stormIssuer: origin('gw-storm'),
    stormCounting: options.stormCounting ?? 'sliding',
    audience,
    upstream,
    settings: benchSettings(shipped, {
      issuer: idp.issuer,
      audience: idp.audience,
      upstreamOrigin: upstream.origin,
    }),
    shippedRoutes: Array.isArray(bundle.vars.ROUTES) ? (bundle.vars.ROUTES as unknown[]) : [],
  })
  // The storm's D1 runs in a workerd of its own, as a D1 primary runs on a machine of its own: its
  // queue's clock does not stop while the gateway's thread derives passwords.
  const stormD1 = workers.find((worker) => worker.name === 'd1-storm') as WorkerService
  const d1Listener = { service: 'd1-storm', port: ports['d1-storm'] }
  const configFile = await writeWorkerdConfig(
    workers.filter((worker) => worker !== stormD1),
    SERVICES.filter((name) => name !== 'd1-storm').map((name) => ({ service: name, port: ports[name] })),
    'bench',
    [d1Listener],
  )
  const workerd = workerdBinary()
  const d1Config = await writeWorkerdConfig([stormD1], [d1Listener], 'storm-d1')
  await startWorkerd(workerd.path, d1Config, [d1Listener.port], undefined, 'workerd-storm-d1')
  log(`starting workerd ${workerd.version} with ${relative(ROOT_DIR, configFile)} ...`)
  const workerdService = await startWorkerd(
    workerd.path,
    configFile,
    Object.values(ports).filter((port) => port !== d1Listener.port),
    options.inspectorPort,
  )

  log('seeding: the bench user and API key (real endpoints), 100,000 revoked jtis, tokens ...')
  const account = await createBenchAccount(origin('gw'), LOGINS, () => cpuSeconds(workerdService.child.pid))
  const minter = await AccessTokenMinter.create(keys, { issuer, audience, ttlSeconds })
  const steady = minter.mintMany(STEADY_TOKENS, TOKEN_SUBJECTS, 'steady')
  // A delegated token from a real code flow (the bench's OAuth client, code-exchange.ts); the
  // scenario's 1,000 are minted in its exact shape (its client_id, scopes, sid, amr...).
  await registerCodeClient(origin('d1'))
  const delegatedMinter = AccessTokenMinter.fromToken(
    keys,
    (
      await codeLogin({
        gatewayOrigin: origin('gw'),
        sessionCookie: account.sessionCookie,
        state: 'delegated',
        cpuSeconds: () => cpuSeconds(workerdService.child.pid),
      })
    ).accessToken,
    ttlSeconds,
  )
  probeDelegated(delegatedMinter)
  // RFC 8707: the MCP route accepts only tokens for its resource, ISSUER + its path.
  const mcpMinter = await AccessTokenMinter.create(keys, { issuer, audience: issuer + MCP_PATH, ttlSeconds })
  const mcp = mcpMinter.mintMany(STEADY_TOKENS, TOKEN_SUBJECTS, 'mcp')
  const denylist: [string, string][] = []
  // One more, the probe's, is added by probeRevocation.
  for (let i = 1; i < DENYLIST_SIZE; i++) denylist.push([revokedJtiKey(uuidv7()), '1'])
  await post(`${origin('kv-denylist')}/__bench/seed`, { entries: denylist })
  // The same number of keys the gateway never reads, in the default gateway's KV: a simulator
  // holding 100,000 entries has a bigger heap to collect (a few % of CPU per read, measured), and
  // that must not pass for the cost of the denylist. Production KV's size costs the Worker nothing.
  const filler = denylist.map(([key]): [string, string] => [
    key.replace('revoked:jti:', 'bench:filler:'),
    '1',
  ])
  await post(`${origin('kv-main')}/__bench/seed`, { entries: filler })
  const external = Array.from({ length: STEADY_TOKENS }, (_, i) => idp.mint(`ext-${i % TOKEN_SUBJECTS}`))
  // The EdDSA cold scenario's tokens are signed by the ring's second key (Ed25519), which verifies only.
  const eddsaMinter = await AccessTokenMinter.create(
    { ...keys, secret: keys.eddsa.secret, privateKey: keys.eddsa.privateKey },
    { issuer, audience, ttlSeconds },
  )
  const cold: ColdMinters = {
    es256: (count) => bearerLines(minter.mintMany(count, TOKEN_SUBJECTS, 'cold')),
    eddsa: (count) => bearerLines(eddsaMinter.mintMany(count, TOKEN_SUBJECTS, 'cold-ed')),
    external: (count) =>
      bearerLines(Array.from({ length: count }, (_, i) => idp.mint(`ext-cold-${i % TOKEN_SUBJECTS}`))),
  }
  const coldApiKeys =
    options.only === undefined || options.only.includes('api-key-cold')
      ? await seedColdApiKeys({ d1Origin: origin('d1'), kvOrigin: origin('kv-main'), count: COLD_API_KEYS })
      : [account.apiKey]
  const files: RequestFiles = {
    none: await writeRequests('none', ['']),
    steady: await writeRequests('steady', bearerLines(steady)),
    external: await writeRequests('external', bearerLines(external)),
    apiKey: await writeRequests('api-key', [`X-API-Key: ${account.apiKey}`]),
    session: await writeRequests('session', [`Cookie: ${account.sessionCookie}`]),
    badSignature: await writeRequests('bad-signature', bearerLines([tamperSignature(steady[0] as string)])),
    // Replaced by the run with enough never-seen tokens; one for the preflight until then.
    cold: await writeRequests('cold', bearerLines([minter.mint('cold-probe')])),
    coldEddsa: await writeRequests('cold-eddsa', bearerLines([eddsaMinter.mint('cold-ed-probe')])),
    coldExternal: await writeRequests('cold-external', bearerLines([idp.mint('ext-cold-probe')])),
    coldApiKey: await writeRequests(
      'cold-api-key',
      coldApiKeys.map((key) => `X-API-Key: ${key}`),
    ),
    mcp: await writeRequests('mcp', bearerLines(mcp)),
    delegated: await writeRequests(
      'delegated',
      bearerLines(delegatedMinter.mintMany(STEADY_TOKENS, TOKEN_SUBJECTS, 'delegated')),
    ),
    rateLimited: await writeRequests('rate-limited', [`CF-Connecting-IP: ${RATE_LIMITED_ADDRESS}`]),
  }

  const haproxy = await startHaproxy({
    upstreamPort: upstream.port,
    publicPem: keys.publicPem,
    issuer,
    audience,
  })
  const targets = {
    worker: origin,
    upstream,
    haproxyOrigin: haproxy ? `http://127.0.0.1:${haproxy.port}` : undefined,
  }
  const env: BenchEnvironment = {
    bundle,
    workerd: { version: workerd.version, service: workerdService },
    upstream,
    haproxy,
    baseline: baselineScenario(targets, files),
    scenarios: selectScenarios(defineScenarios(targets, files, cold), options.only),
    reference: referenceScenario(targets, files),
    account,
    minter,
    files,
    origin,
    workers,
    inspectorPort: options.inspectorPort,
    dataKeys,
    passkeyIssuer,
    seededUnique: new Map([[files.coldApiKey, coldApiKeys.length]]),
  }
  await fillTokenLimit(env.scenarios.find((scenario) => scenario.id === 'rate-limited'))
  const own = env.scenarios.flatMap((scenario) => (scenario.baseline ? [scenario.baseline] : []))
  for (const scenario of new Set([env.baseline, ...own, env.reference, ...env.scenarios]))
    if (!scenario.skipped) await preflight(scenario)
  await probeRevocation(env, minter)
  await probeMcp(env, minter, mcp[0] as string)
  return env
}
