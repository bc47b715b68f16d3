/**
 * `npm run deploy [-- <wrangler deploy options>]`: validates the configuration, applies pending
 * D1 migrations to the remote database, then runs `wrangler deploy`. Migrations go first so the
 * new code never runs against an old schema (migrations are written to be additive, so the code
 * still running meanwhile keeps working).
 */
import { describeError, fail, info, scriptArgs, wantsHelp } from './lib/cli'
import { hasOption, runWrangler, sharedOptions, wranglerEnv } from './lib/wrangler'
import {
  checkConfig,
  loopbackProviders,
  loopbackVars,
  openRegistrationWarning,
  placeholderBindings,
} from './lib/wrangler-config'

const HELP = `Usage: npm run deploy [-- <wrangler deploy options>]

  1. validates the configuration (as \`npm run check-config\`); refuses placeholder binding ids
     and ISSUER, UPSTREAM_URL, MCP_UPSTREAM_URL (any var) on 127.0.0.1 or localhost (local-only)
  2. wrangler d1 migrations apply DB --remote   (skipped with --dry-run)
  3. wrangler deploy <options>

Every option is passed to wrangler deploy; --env/-e and --config/-c also select the config and
database the migrations run against. Examples:
  npm run deploy
  npm run deploy -- --env staging
  npm run deploy -- --dry-run --outdir dist     (bundle only: no account, no migrations)

Needs a Cloudflare login (\`npx wrangler login\`, or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID),
the D1 database and KV namespace ids in wrangler.toml, and the SIGNING_KEYS secret
(npm run --silent keys -- generate | npx wrangler secret put SIGNING_KEYS).
`

function optionValue(args: readonly string[], names: readonly string[]): string | undefined {
  const [name, value] = sharedOptions(args, names)
  if (name === undefined) return undefined
  return value ?? name.slice(name.indexOf('=') + 1)
}

/** `--var NAME:value` options, which wrangler deploy applies over the file's vars. */
function cliVars(args: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const pair = arg === '--var' ? args[++i] : arg.startsWith('--var=') ? arg.slice(6) : undefined
    if (pair === undefined) continue
    const colon = pair.indexOf(':')
    if (colon > 0) vars[pair.slice(0, colon)] = pair.slice(colon + 1)
  }
  return vars
}

async function main(): Promise<void> {
  const args = scriptArgs()
  if (wantsHelp(args)) {
    process.stdout.write(HELP)
    return
  }
  const dryRun = hasOption(args, '--dry-run')
  const configPath = optionValue(args, ['--config', '-c']) ?? 'wrangler.toml'
  const envName = optionValue(args, ['--env', '-e'])

  let check: ReturnType<typeof checkConfig>
  try {
    check = checkConfig({ configPath, envName, overrides: cliVars(args) })
  } catch (error) {
    fail(describeError(error))
  }
  if (!check.ok) {
    info(`configuration invalid, not deploying (see npm run check-config):`)
    for (const problem of check.problems) info(`  ${problem}`)
    process.exit(1)
  }
  const registration = openRegistrationWarning(check)
  if (registration) info(registration)
  const unfinished = [
    ...placeholderBindings(configPath, envName),
    ...loopbackVars(check.vars),
    ...loopbackProviders(check.vars),
  ]
  if (unfinished.length > 0 && !dryRun) {
    info(`${configPath} is still set up for local development, not deploying:`)
    for (const problem of unfinished) info(`  ${problem}`)
    info('See "Deploy" in README.md.')
    process.exit(1)
  }

  // CI=true: wrangler would otherwise stop at a confirmation prompt; running this command is the confirmation.
  const selectors = sharedOptions(args, ['--env', '-e', '--config', '-c'])
  if (dryRun) {
    info('--dry-run: skipping remote D1 migrations')
  } else {
    const migrated = await runWrangler(['d1', 'migrations', 'apply', 'DB', '--remote', ...selectors], {
      env: wranglerEnv({ nonInteractive: true }),
    })
    if (migrated !== 0)
      fail(`remote D1 migrations failed (wrangler exited with ${migrated}); nothing deployed`, migrated)
  }
  const deployed = await runWrangler(['deploy', ...args])
  process.exitCode = deployed
}

main().catch((error: unknown) => fail(describeError(error)))
