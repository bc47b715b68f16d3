/** create-api-key: an API key for a user, printed once; D1 stores only its SHA-256. */
import { join } from 'node:path'
import { generateApiKey } from '../../src/api-keys/format'
import { buildRoleClosure, effectiveRoles } from '../../src/authz/roles'
import { scopesForRoles } from '../../src/authz/scopes'
import { type Settings, settingsSchema } from '../../src/config/schema'
import { sha256Hex } from '../../src/crypto/bytes'
import { parseStringList } from '../../src/db/json'
import { userAuditStatement } from './admin-audit'
import { type AdminCommand, exactlyPositionals, out, UsageError } from './admin-command'
import { executeSql, PROJECT_ROOT } from './admin-d1'
import { assertNames, assertUsername } from './admin-names'
import { remoteCreateApiKey } from './admin-remote'
import { joinStatements, jsonList, NOW_SECONDS, sql } from './admin-sql'
import { describeTarget, parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

const CONFIG_PATH = join(PROJECT_ROOT, 'wrangler.toml')
const DAY_SECONDS = 86_400

/**
 * The deployed settings (wrangler.toml), for the same rules as POST /auth/api-keys. wrangler's
 * reader is imported here, not at the top: loading it costs about 2 s of CPU, which every other
 * command (and every --help) would pay.
 */
async function readSettings(envName: string | undefined): Promise<Settings> {
  const { readWorkerVars } = await import('./wrangler-config')
  const vars = readWorkerVars(CONFIG_PATH, envName)
  const raw = typeof vars.SETTINGS === 'string' ? JSON.parse(vars.SETTINGS) : (vars.SETTINGS ?? {})
  return settingsSchema.parse(raw)
}

function parseDays(value: string | undefined, settings: Settings): number {
  if (value === undefined) return settings.api_key_default_ttl_days
  const days = Number(value)
  if (!Number.isInteger(days) || days < 1 || days > settings.api_key_max_ttl_days) {
    throw new UsageError(
      `--expires-in-days must be whole days between 1 and ${settings.api_key_max_ttl_days} (SETTINGS.api_key_max_ttl_days)`,
    )
  }
  return days
}

export const createApiKey: AdminCommand = {
  name: 'create-api-key',
  summary: 'create an API key for a user (prints the key once)',
  help: `Usage: npm run admin -- create-api-key <username> --name N [--scope S]... [--role R]... [--expires-in-days N] [target]

Creates an API key (gwk_<id>_<secret>, 256 bits of secret) owned by <username>, printed on stdout
once and never again: D1 stores only its SHA-256. Every key expires. Its scopes can never exceed
what its roles allow (SETTINGS.role_scopes in wrangler.toml); without --scope it gets all of them.

  --name N               a label for the key (required)
  --scope S              a scope (repeatable)
  --role R               a role the key acts with (repeatable); each must be held by the user,
                         directly or through SETTINGS.role_hierarchy. At each use the key's roles
                         are capped by the user's current ones. Without --role the key acts with
                         the user's current roles.
  --expires-in-days N    lifetime in days, 1 .. SETTINGS.api_key_max_ttl_days (default 365);
                         default: SETTINGS.api_key_default_ttl_days (default 90)

The key stops working when it expires, when it is revoked (DELETE /auth/api-keys/<id> or
/admin/api-keys/<id>), on revoke-user (revokes every key of the user) and while the user is
disabled. logout-all and a password change do not end API keys.

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      'expires-in-days': { type: 'string' },
    })
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const name = values.name
    if (!name || !/^[\p{L}\p{N} ._:-]{1,64}$/u.test(name)) {
      throw new UsageError('--name is required: 1-64 letters, digits, spaces or . _ : - characters')
    }
    const keyRoles = values.role ? [...new Set(assertNames(values.role, 'role'))].sort() : undefined
    const remote = remoteOf(values)
    if (remote) {
      const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days'])
      const scopes = values.scope ? assertNames(values.scope, 'scope') : undefined
      await remoteCreateApiKey(
        remote,
        username,
        { name, scopes, roles: keyRoles, days },
        values.json === true,
      )
      return 0
    }
    const settings = await readSettings(target.env)
    const days = parseDays(values['expires-in-days'], settings)
    const [users = []] = await executeSql(
      target,
      joinStatements([sql`SELECT id, roles, disabled FROM users WHERE username = ${username}`]),
    )
    const user = users[0]
    if (!user || typeof user.id !== 'string') throw new Error(`no user "${username}"`)
    if (user.disabled) throw new Error(`user "${username}" is disabled`)
    const closure = buildRoleClosure(settings.role_hierarchy)
    const ownerRoles = parseStringList(user.roles)
    const held = effectiveRoles(ownerRoles, closure)
    const notHeld = (keyRoles ?? []).filter((role) => !held.has(role))
    if (notHeld.length > 0) throw new Error(`${username} does not hold the role(s): ${notHeld.join(' ')}`)
    const allowed = scopesForRoles(keyRoles ?? ownerRoles, closure, settings.role_scopes)
    const requested = values.scope ? assertNames(values.scope, 'scope') : [...allowed].sort()
    const excess = requested.filter((scope) => !allowed.has(scope))
    if (excess.length > 0)
      throw new Error(`${username}'s roles do not allow the scope(s): ${excess.join(' ')}`)
    const { id, key } = generateApiKey()
    const keyHash = await sha256Hex(key)
    // D1's clock, as created_at: the lifetime is exact whatever the operator's laptop says.
    const expiresAt = sql`${NOW_SECONDS} + ${days * DAY_SECONDS}`
    const roles = keyRoles === undefined ? null : jsonList(keyRoles)
    const statement = sql`INSERT INTO api_keys (id, user_id, name, key_hash, scopes, roles, created_at, expires_at)
      VALUES (${id}, ${user.id}, ${name}, ${keyHash}, ${jsonList(requested)}, ${roles}, ${NOW_SECONDS}, ${expiresAt})`
    const audit = userAuditStatement('api_key_created', { username }, { key_id: id, name, scopes: requested })
    await executeSql(target, joinStatements([statement, audit]), { secrets: [keyHash] })
    process.stderr.write(
      `created API key ${id} for ${username} (scopes: ${requested.join(' ') || 'none'}; roles: ${keyRoles?.join(' ') ?? "the user's"}; expires in ${days} days) in ${describeTarget(target)} D1\n`,
    )
    out(`id: ${id}`)
    out(`key: ${key}`)
    process.stderr.write('Store the key now: it is not shown again (D1 holds only its SHA-256).\n')
    return 0
  },
}
