/** create-api-key: an API key for a user, printed once; D1 stores only its SHA-256. */
import { join } from 'node:path'
import { generateApiKey } from '../../src/api-keys/format'
import { MAX_API_KEY_LIFETIME_SECONDS } from '../../src/api-keys/service'
import { buildRoleClosure } from '../../src/authz/roles'
import { settingsSchema } from '../../src/config/schema'
import { sha256Hex } from '../../src/crypto/bytes'
import { parseStringList } from '../../src/storage/json'
import { scopesForRoles } from '../../src/tokens/scopes'
import { type AdminCommand, exactlyPositionals, out, UsageError } from './admin-command'
import { executeSql, PROJECT_ROOT } from './admin-d1'
import { assertNames, assertUsername } from './admin-names'
import { joinStatements, jsonList, NOW_SECONDS, sql } from './admin-sql'
import { describeTarget, parseCommandArgs, readTarget, TARGET_HELP } from './admin-target'
import { readWorkerVars } from './wrangler-config'

const CONFIG_PATH = join(PROJECT_ROOT, 'wrangler.toml')

/** The scopes the user's roles allow, per the deployed settings (the same rule as POST /auth/api-keys). */
function allowedScopes(roles: string[], envName: string | undefined): Set<string> {
  const vars = readWorkerVars(CONFIG_PATH, envName)
  const raw = typeof vars.SETTINGS === 'string' ? JSON.parse(vars.SETTINGS) : (vars.SETTINGS ?? {})
  const settings = settingsSchema.parse(raw)
  return scopesForRoles(roles, buildRoleClosure(settings.role_hierarchy), settings.role_scopes)
}

export const createApiKey: AdminCommand = {
  name: 'create-api-key',
  summary: 'create an API key for a user (prints the key once)',
  help: `Usage: npm run admin -- create-api-key <username> --name N [--scope S]... [--expires-in SECONDS] [target]

Creates an API key (gwk_<id>_<secret>, 256 bits of secret) owned by <username>, printed on stdout
once and never again: D1 stores only its SHA-256. Its scopes can never exceed what the owner's
roles allow (SETTINGS.role_scopes in wrangler.toml); without --scope it gets all of them.

  --name N            a label for the key (required)
  --scope S           a scope (repeatable)
  --expires-in SECS   lifetime in seconds (60 .. ${MAX_API_KEY_LIFETIME_SECONDS}); default: no expiry

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'expires-in': { type: 'string' },
    })
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const name = values.name
    if (!name || !/^[\p{L}\p{N} ._:-]{1,64}$/u.test(name)) {
      throw new UsageError('--name is required: 1-64 letters, digits, spaces or . _ : - characters')
    }
    let expiresIn: number | undefined
    if (values['expires-in'] !== undefined) {
      expiresIn = Number(values['expires-in'])
      if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > MAX_API_KEY_LIFETIME_SECONDS) {
        throw new UsageError(
          `--expires-in must be whole seconds between 60 and ${MAX_API_KEY_LIFETIME_SECONDS}`,
        )
      }
    }
    const [users = []] = await executeSql(
      target,
      joinStatements([sql`SELECT id, roles, disabled FROM users WHERE username = ${username}`]),
    )
    const user = users[0]
    if (!user || typeof user.id !== 'string') throw new Error(`no user "${username}"`)
    if (user.disabled) throw new Error(`user "${username}" is disabled`)
    const allowed = allowedScopes(parseStringList(user.roles), target.env)
    const requested = values.scope ? assertNames(values.scope, 'scope') : [...allowed].sort()
    const excess = requested.filter((scope) => !allowed.has(scope))
    if (excess.length > 0)
      throw new Error(`${username}'s roles do not allow the scope(s): ${excess.join(' ')}`)
    const { id, key } = generateApiKey()
    const keyHash = await sha256Hex(key)
    const expiresAt = expiresIn === undefined ? null : Math.floor(Date.now() / 1000) + expiresIn
    const statement = sql`INSERT INTO api_keys (id, user_id, name, key_hash, scopes, created_at, expires_at)
      VALUES (${id}, ${user.id}, ${name}, ${keyHash}, ${jsonList(requested)}, ${NOW_SECONDS}, ${expiresAt})`
    await executeSql(target, joinStatements([statement]), { secrets: [keyHash] })
    process.stderr.write(
      `created API key ${id} for ${username} (scopes: ${requested.join(' ') || 'none'}) in ${describeTarget(target)} D1\n`,
    )
    out(`id: ${id}`)
    out(`key: ${key}`)
    process.stderr.write('Store the key now: it is not shown again (D1 holds only its SHA-256).\n')
    return 0
  },
}
