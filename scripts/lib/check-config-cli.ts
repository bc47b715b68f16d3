/**
 * `npm run check-config`'s command (scripts/check-config.ts runs it on the process's arguments):
 * its own module so that tests can run it in their process, without a process and a wrangler load
 * per configuration (test/e2e/check-config.test.ts).
 */
import { parseArgs } from 'node:util'
import { describeError, fail, info, wantsHelp } from './cli'
import {
  checkConfig,
  environmentOverrides,
  loginProviderNotes,
  openRegistrationWarning,
  rateLimitNotes,
} from './wrangler-config'

const HELP = `Usage: npm run check-config [-- --env NAME] [--config PATH]

Validates the gateway configuration in wrangler.toml (SETTINGS, ROUTES, ISSUER, UPSTREAM_URL and
every var a route's "upstream" names) with the same validator the Worker runs, offline.

  --env, -e NAME     check [env.NAME] as \`wrangler deploy --env NAME\` would deploy it
                     (wrangler does not inherit top-level [vars] into an environment)
  --config, -c PATH  wrangler config file (default: wrangler.toml)
  --help, -h         this help

UPSTREAM_URL, MCP_UPSTREAM_URL and ISSUER in the environment override the file, as \`npm start\` does.
Prints every problem with its field and exits 1, or "configuration OK: N routes" and exits 0.

Lists the secret each LOGIN_PROVIDERS entry needs, and warns about providers on loopback (the
local stand-ins), with open registration, or with link_by_verified_email (which trusts the
provider's email_verified, and is an error while registration is open).

Warns when a rate-limit binding ([[ratelimits]], docs/rate-limiting.md) is missing or has another
period than the gateway assumes, unless RATE_LIMITING = "off".

Warns (on stderr, still exit 0) when the checked config has open registration, through
SETTINGS.registration = true or REGISTRATION = "on": a deploy of it lets anyone sign up. .dev.vars
(where \`npm start\` sets REGISTRATION=on for local development) is not read: it is not deployed.
`

/** The command on its arguments: writes to stdout/stderr, sets `process.exitCode` or exits via fail(). */
export function runCheckConfig(args: readonly string[]): void {
  if (wantsHelp(args)) {
    process.stdout.write(HELP)
    return
  }
  let values: { env?: string; config?: string }
  try {
    ;({ values } = parseArgs({
      args: [...args],
      options: { env: { type: 'string', short: 'e' }, config: { type: 'string', short: 'c' } },
      strict: true,
    }))
  } catch (error) {
    fail(`${describeError(error)}\n\n${HELP}`, 2)
  }
  const overrides = environmentOverrides()
  const configPath = values.config ?? 'wrangler.toml'
  const where = values.env ? `${configPath} [env.${values.env}]` : configPath
  let result: ReturnType<typeof checkConfig>
  try {
    result = checkConfig({ configPath, envName: values.env, overrides })
  } catch (error) {
    fail(describeError(error))
  }
  if (!('ROUTES' in result.vars)) {
    info('warning: no ROUTES: the gateway would serve only its own endpoints and answer 404 elsewhere')
    if (values.env) {
      info(
        `hint: wrangler does not inherit [vars] into [env.${values.env}]; it must set SETTINGS, ROUTES, ISSUER, ... itself`,
      )
    }
  }
  const registration = openRegistrationWarning(result)
  if (registration) info(registration)
  for (const note of loginProviderNotes(result.vars)) info(note)
  for (const note of rateLimitNotes(configPath, values.env)) info(note)
  if (result.ok) {
    process.stdout.write(
      `configuration OK: ${result.routes} route${result.routes === 1 ? '' : 's'} (${where})\n`,
    )
    return
  }
  info(`configuration invalid (${where}): ${result.problems.length} problem(s)`)
  for (const problem of result.problems) info(`  ${problem}`)
  process.exitCode = 1
}
