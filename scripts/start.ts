/**
 * `npm start`: the gateway on http://127.0.0.1:$PORT (default 8787) with local D1 and KV, as
 * CONTRACT.md describes: creates .dev.vars with dev signing keys (and REGISTRATION=on: sign-up is
 * for local development only) if missing, applies pending D1
 * migrations, starts the demo upstream unless UPSTREAM_URL is set and the demo MCP server unless
 * MCP_UPSTREAM_URL is set, then runs `wrangler dev`.
 * Arguments after `--` go to `wrangler dev`. Ctrl-C stops everything this started.
 */
import { type EchoServer, startEchoServer } from './echo-upstream'
import { describeError, fail, info, scriptArgs, wantsHelp } from './lib/cli'
import {
  appendDevVarsText,
  DEV_VARS_FILE,
  devVar,
  formatDevVar,
  readDevVarsFile,
  writeDevVarsFile,
} from './lib/dev-vars'
import { generateDataKeySet, generateKeySet } from './lib/key-set'
import { localIssuer } from './lib/local-issuer'
import { freePort, parsePort } from './lib/ports'
import { exitOf, isPortFree, stopChild, waitForOk } from './lib/processes'
import { missingStandInSecrets, type RunningStandIns, STAND_INS, startStandIns } from './lib/stand-ins'
import { hasOption, runWrangler, sharedOptions, spawnWrangler, wranglerEnv } from './lib/wrangler'
import { readWorkerVars } from './lib/wrangler-config'
import { DEFAULT_MCP_DEMO_PORT, type McpDemoServer, startMcpDemoServer } from './mcp-demo-server'

const HELP = `Usage: npm start [-- <wrangler dev options>]

Runs the gateway locally with local D1 and KV (state under .wrangler/):
  1. creates .dev.vars with freshly generated dev SIGNING_KEYS and DATA_KEYS if it is missing
     (adds either key set when its line is missing), and REGISTRATION=on (open sign-up for local development; wrangler.toml ships it off)
     and DEV_MAILBOX=1 (the dev mailbox at /dev/mailbox)
  2. applies pending D1 migrations (wrangler d1 migrations apply DB --local)
  3. starts the demo upstream (echo API) unless UPSTREAM_URL is set, the demo MCP server (tools
     echo, list_orders, delete_order at /mcp) unless MCP_UPSTREAM_URL is set, and the stand-in
     login providers the config names (local-oidc, local-github), with their secrets in .dev.vars
  4. runs wrangler dev with UPSTREAM_URL, MCP_UPSTREAM_URL and ISSUER pointing at the right places

Environment:
  PORT                 gateway port (default 8787); ISSUER becomes http://127.0.0.1:$PORT
  ISSUER               another loopback origin of the gateway, e.g. http://localhost:8787 (passkeys
                       need a domain name: an IP address cannot be a WebAuthn RP ID); still served
                       on 127.0.0.1, on ISSUER's port
  UPSTREAM_URL         origin the default routes forward to; when set, no demo upstream is started
  DEMO_UPSTREAM_PORT   port of the demo upstream (default 8788)
  MCP_UPSTREAM_URL     origin of the MCP server the MCP routes forward to; when set, no demo MCP
                       server is started
  MCP_DEMO_PORT        port of the demo MCP server (default 8791)
  OIDC_STAND_IN_PORT   port of the local OpenID Connect provider (default 8789)
  GITHUB_STAND_IN_PORT port of the local GitHub stand-in (default 8790)

Options after \`--\` go to wrangler dev, e.g. \`npm start -- --persist-to /tmp/gw-state\`
(--persist-to, --env and --config also apply to the migrations). Ctrl-C stops everything.
`

const HOST = '127.0.0.1'
const STOP_GRACE_MS = 10_000
const READY_TIMEOUT_MS = 120_000

const DEV_VARS_HEADER =
  '# Local secrets for `wrangler dev`; created by `npm start`. Never commit this file.\n'
// Sign-up is off in wrangler.toml (what a deploy ships) and opened here, for local development only.
const REGISTRATION_COMMENT =
  '# Local development only: opens POST /auth/register (wrangler.toml keeps it off when deployed).\n'

// Every mail is also kept in KV and listed at /dev/mailbox; check-config and the deploy guard refuse it.
const DEV_MAILBOX_COMMENT =
  '# Local development only: mails sent are listed at /dev/mailbox (only while ISSUER is loopback).\n'

/**
 * Step 1: .dev.vars. Adds dev SIGNING_KEYS, DATA_KEYS and REGISTRATION=on when missing; never
 * replaces a value that is there (tokens signed and secrets sealed with existing keys stay valid;
 * REGISTRATION=off stays off).
 */
async function ensureDevVars(): Promise<void> {
  const existing = await readDevVarsFile()
  const added: string[] = []
  let text = ''
  if (existing === undefined || !devVar(existing, 'SIGNING_KEYS')) {
    text += formatDevVar('SIGNING_KEYS', await generateKeySet())
    added.push('freshly generated dev SIGNING_KEYS')
  }
  if (existing === undefined || !devVar(existing, 'DATA_KEYS')) {
    text += formatDevVar('DATA_KEYS', await generateDataKeySet())
    added.push('freshly generated dev DATA_KEYS')
  }
  if (existing === undefined || devVar(existing, 'REGISTRATION') === undefined) {
    text += REGISTRATION_COMMENT + formatDevVar('REGISTRATION', 'on')
    added.push('REGISTRATION=on (open sign-up, local only)')
  }
  if (existing === undefined || devVar(existing, 'DEV_MAILBOX') === undefined) {
    text += DEV_MAILBOX_COMMENT + formatDevVar('DEV_MAILBOX', '1')
    added.push('DEV_MAILBOX=1 (mails readable at /dev/mailbox, local only)')
  }
  const standInSecrets = missingStandInSecrets(existing)
  if (standInSecrets) {
    text += standInSecrets
    added.push('client secrets of the stand-in login providers')
  }
  if (added.length === 0) return
  if (existing === undefined) {
    await writeDevVarsFile(DEV_VARS_HEADER + text)
    info(`created ${DEV_VARS_FILE} with ${added.join(' and ')}`)
  } else {
    await appendDevVarsText(text)
    info(`added ${added.join(' and ')} to ${DEV_VARS_FILE}`)
  }
}

/** A bundled demo server, or a one-line failure naming the variables that move or replace it. */
async function startDemo<T>(
  what: string,
  port: number,
  vars: { port: string; url: string },
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start()
  } catch (error) {
    fail(
      `cannot start the ${what} on ${HOST}:${port} (${describeError(error)}); ` +
        `set ${vars.port} to another port, or ${vars.url} to your own server`,
    )
  }
}

interface Upstreams {
  upstream: string
  demo: boolean
  mcp: string
  mcpDemo: boolean
}

function banner(gateway: string, upstreams: Upstreams, standIns: string[]): string {
  const rows = [
    ...standIns.map((line) => ['provider', line]),
    ['gateway', `${gateway}   (ISSUER, JWKS at ${gateway}/.well-known/jwks.json)`],
    ['upstream', `${upstreams.upstream}${upstreams.demo ? '   (demo echo API)' : ''}`],
    ['mcp', `${upstreams.mcp}${upstreams.mcpDemo ? '   (demo MCP server at /mcp, MCP_UPSTREAM_URL)' : ''}`],
    ['try', `curl -s ${gateway}/api/public/hello`],
    ['browser', `${gateway}/app/   (sign in as a user from the README walkthrough)`],
    ['stop', 'Ctrl-C'],
  ]
  return `\n  edge-auth-gateway is running\n${rows.map(([k, v]) => `    ${k?.padEnd(9)} ${v}`).join('\n')}\n\n`
}

/** The value of `--name V` / `--name=V` (or its short form) in wrangler options. */
function optionValue(args: readonly string[], name: string, short: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === name || arg === short) return args[i + 1]
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1)
  }
  return undefined
}

async function main(): Promise<void> {
  const passThrough = scriptArgs()
  if (wantsHelp(passThrough)) {
    process.stdout.write(HELP)
    return
  }
  let port: number
  let gateway: string
  let demoPort: number
  let mcpDemoPort: number
  try {
    const local = localIssuer(process.env, (value) => parsePort(value, 'PORT', 8787))
    gateway = local.issuer
    port = local.port
    demoPort = parsePort(process.env.DEMO_UPSTREAM_PORT, 'DEMO_UPSTREAM_PORT', 8788)
    mcpDemoPort = parsePort(process.env.MCP_DEMO_PORT, 'MCP_DEMO_PORT', DEFAULT_MCP_DEMO_PORT)
    for (const stand of Object.values(STAND_INS))
      parsePort(process.env[stand.portVar], stand.portVar, stand.port)
  } catch (error) {
    fail(describeError(error), 2)
  }
  if (!(await isPortFree(port, HOST))) fail(`port ${port} on ${HOST} is in use; set PORT to another port`)

  await ensureDevVars()

  // Started now, so their start-up (oidc-provider's import) overlaps the migrations.
  const configOptions = sharedOptions(passThrough, ['--env', '-e', '--config', '-c'])
  const standInsStarting = startStandIns(
    readWorkerVars(
      optionValue(configOptions, '--config', '-c') ?? 'wrangler.toml',
      optionValue(configOptions, '--env', '-e'),
    ).LOGIN_PROVIDERS,
    (await readDevVarsFile()) ?? '',
    gateway,
    HOST,
  )
  const stateOptions = sharedOptions(passThrough, ['--persist-to', '--env', '-e', '--config', '-c'])
  const migrated = await runWrangler(['d1', 'migrations', 'apply', 'DB', '--local', ...stateOptions], {
    env: wranglerEnv({ nonInteractive: true }),
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (migrated !== 0) fail(`applying D1 migrations failed (wrangler exited with ${migrated})`, migrated)

  const configuredUpstream = process.env.UPSTREAM_URL
  const demo = configuredUpstream
    ? undefined
    : await startDemo('demo upstream', demoPort, { port: 'DEMO_UPSTREAM_PORT', url: 'UPSTREAM_URL' }, () =>
        startEchoServer(demoPort, HOST),
      )
  const upstream = configuredUpstream ?? (demo as EchoServer).origin
  const configuredMcp = process.env.MCP_UPSTREAM_URL
  const mcpDemo = configuredMcp
    ? undefined
    : await startDemo(
        'demo MCP server',
        mcpDemoPort,
        { port: 'MCP_DEMO_PORT', url: 'MCP_UPSTREAM_URL' },
        () =>
          startMcpDemoServer({ port: mcpDemoPort, host: HOST, log: (line) => info(`[mcp demo] ${line}`) }),
      )
  const mcpUpstream = configuredMcp ?? (mcpDemo as McpDemoServer).origin
  const standIns: RunningStandIns = await standInsStarting

  const devArgs = ['dev', '--ip', HOST, '--port', String(port)]
  // A distinct inspector port: two gateways (a developer's and a test's) can then run at once.
  if (!hasOption(passThrough, '--inspector-port')) devArgs.push('--inspector-port', String(await freePort()))
  devArgs.push('--var', `UPSTREAM_URL:${upstream}`, '--var', `MCP_UPSTREAM_URL:${mcpUpstream}`)
  devArgs.push('--var', `ISSUER:${gateway}`, ...standIns.wranglerArgs)
  devArgs.push(...passThrough)
  const wrangler = spawnWrangler(devArgs)
  const exited = exitOf(wrangler)

  let stopping = false
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return
    stopping = true
    const demos = [demo && 'the demo upstream', mcpDemo && 'the demo MCP server'].filter(Boolean)
    info(`\n${signal}: stopping ${['the gateway', ...demos].join(', ')}`)
    await stopChild(wrangler, signal, STOP_GRACE_MS)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGHUP', () => void stop('SIGHUP'))

  // Asked on the address it listens on: `localhost` may resolve to ::1 first.
  waitForOk(`http://${HOST}:${port}/healthz`, READY_TIMEOUT_MS, exited).then((ready) => {
    const upstreams = { upstream, demo: demo !== undefined, mcp: mcpUpstream, mcpDemo: mcpDemo !== undefined }
    if (ready) process.stdout.write(banner(gateway, upstreams, standIns.summary))
  })

  const code = await exited
  await demo?.close()
  await mcpDemo?.close()
  await standIns.close()
  // A stop the user asked for is a success; otherwise wrangler's own exit code.
  process.exit(stopping ? 0 : code)
}

main().catch((error: unknown) => fail(describeError(error)))
