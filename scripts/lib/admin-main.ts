/** The operator CLI's dispatch: the command table, the top-level help, and how errors are reported. */

import { createApiKey } from './admin-api-keys'
import { createClient } from './admin-clients'
import { type AdminCommand, UsageError } from './admin-command'
import { WranglerError } from './admin-d1'
import { setEmail } from './admin-email'
import { resetFactors } from './admin-factors'
import { AdminApiError } from './admin-http'
import { importUsers } from './admin-import'
import { audit, listUsers } from './admin-lists'
import { TARGET_HELP } from './admin-target'
import { createUser, disableUser, enableUser, revokeUser, setRoles } from './admin-users'
import { describeError } from './cli'

const COMMANDS: readonly AdminCommand[] = [
  createUser,
  setRoles,
  disableUser,
  enableUser,
  revokeUser,
  setEmail,
  resetFactors,
  createClient,
  createApiKey,
  importUsers,
  listUsers,
  audit,
]

const HELP = `Usage: npm run admin -- <command> [arguments] [--local | --remote] [--env NAME]

Operator commands against the gateway's D1 (and KV), local by default, or through a running
gateway's admin API with --url and an admin token (GATEWAY_URL, GATEWAY_ADMIN_TOKEN).

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(15)}${command.summary}`).join('\n')}

Run \`npm run admin -- <command> --help\` for a command's arguments.
Secrets (client secrets) are printed once on stdout; passwords and hashes never are.

${TARGET_HELP}
`

/**
 * Runs one CLI invocation and resolves with its exit code; output goes to process.stdout and
 * process.stderr. A function, not the script, so the e2e tests can run it in their own process.
 */
export async function runAdmin(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) {
      process.stderr.write(HELP)
      return 1
    }
    process.stdout.write(HELP)
    return 0
  }
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (!command) {
    process.stderr.write(`error: unknown command "${name.slice(0, 40)}" (see npm run admin -- --help)\n`)
    return 1
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    const prefix =
      error instanceof WranglerError
        ? 'wrangler failed: '
        : error instanceof AdminApiError
          ? 'admin API: '
          : ''
    process.stderr.write(`error: ${prefix}${describeError(error)}\n`)
    if (error instanceof UsageError || isParseArgsError(error))
      process.stderr.write(`(see npm run admin -- ${command.name} --help)\n`)
    return 1
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
}
