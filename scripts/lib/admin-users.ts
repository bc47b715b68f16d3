/** User commands: create-user, set-roles, disable, enable, revoke-user. */
import { join } from 'node:path'
import { hashPassword } from '../../src/users/password-hash'
import { checkPassword } from '../../src/users/password-policy'
import { userAuditStatement } from './admin-audit'
import { type AdminCommand, exactlyPositionals, out, UsageError } from './admin-command'
import { executeSql, PROJECT_ROOT } from './admin-d1'
import { assertNames, assertUsername } from './admin-names'
import { promptNewPassword, readPasswordFromStdin } from './admin-password'
import { remoteCreateUser, remoteRevokeUser, remoteSetDisabled, remoteSetRoles } from './admin-remote'
import {
  publishApiKeyTombstones,
  publishRevocation,
  readRevocation,
  revocationTtlSeconds,
  revokeUserApiKeysStatement,
  revokeUserStatements,
  userApiKeysStatement,
} from './admin-revoke'
import { joinStatements, jsonList, NOW_SECONDS, sql } from './admin-sql'
import {
  describeTarget,
  parseCommandArgs,
  readPepper,
  readTarget,
  remoteOf,
  TARGET_HELP,
} from './admin-target'

const CONFIG_PATH = join(PROJECT_ROOT, 'wrangler.toml')
const DEFAULT_ROLES = ['user']

function noSuchUser(username: string): Error {
  return new Error(`no user "${username}"`)
}

export const createUser: AdminCommand = {
  name: 'create-user',
  summary: 'create a user (prints its id)',
  help: `Usage: npm run admin -- create-user <username> [--password-stdin] [--role R]... [target]

Creates a user with a password hashed exactly as the Worker hashes it (PBKDF2-SHA256, and
PASSWORD_PEPPER when set in the environment or, for local state, in .dev.vars). The password must
pass the same policy as registration. Prints the new user's id on stdout.

  --password-stdin   read the password from stdin (one trailing newline is dropped);
                     without it the password is prompted for on the terminal, not echoed
  --role R           a role (repeatable; default: user)

${TARGET_HELP}

Example:  printf '%s' "$PASSWORD" | npm run --silent admin -- create-user alice --password-stdin --role admin
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      'password-stdin': { type: 'boolean' },
      role: { type: 'string', multiple: true },
    })
    const target = readTarget(values)
    const [name] = exactlyPositionals(positionals, ['username'])
    const username = assertUsername(name as string)
    const roles = assertNames(values.role ?? DEFAULT_ROLES, 'role')
    const password = values['password-stdin'] ? await readPasswordFromStdin() : await promptNewPassword()
    const check = checkPassword(password, { username })
    if (!check.ok) throw new Error(`password refused: ${check.message}`)
    const remote = remoteOf(values)
    if (remote) {
      await remoteCreateUser(remote, { username, password, roles }, values.json === true)
      return 0
    }
    const passwordHash = await hashPassword(password, { pepper: await readPepper(target, PROJECT_ROOT) })
    const newId = crypto.randomUUID()
    const statement = sql`INSERT INTO users (id, username, password_hash, roles, disabled, created_at, updated_at, password_changed_at)
      VALUES (${newId}, ${username}, ${passwordHash}, ${jsonList(roles)}, 0, ${NOW_SECONDS}, ${NOW_SECONDS}, ${NOW_SECONDS})
      ON CONFLICT(username) DO NOTHING RETURNING id`
    const audit = userAuditStatement('user_created', { id: newId }, { username, roles })
    const [rows = []] = await executeSql(target, joinStatements([statement, audit]), {
      secrets: [passwordHash],
    })
    const id = rows[0]?.id
    if (typeof id !== 'string') {
      throw new Error(`user "${username}" already exists (usernames are compared case-insensitively)`)
    }
    process.stderr.write(
      `created user ${username} with roles ${roles.join(', ')} in ${describeTarget(target)} D1\n`,
    )
    out(id)
    return 0
  },
}

export const setRoles: AdminCommand = {
  name: 'set-roles',
  summary: "replace a user's roles",
  help: `Usage: npm run admin -- set-roles <username> <role>... [target]

Replaces the user's roles (lowercase names; the hierarchy admin > editor > user is in wrangler.toml).
Tokens issued from now on carry the new roles; access tokens already issued keep the old ones
until they expire. Run revoke-user as well to end them at once (e.g. when removing admin).

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    const target = readTarget(values)
    const [name, ...requested] = positionals
    if (name === undefined || requested.length === 0) throw new UsageError('expected <username> <role>...')
    const username = assertUsername(name)
    const roles = assertNames(requested, 'role')
    const remote = remoteOf(values)
    if (remote) {
      await remoteSetRoles(remote, username, roles, values.json === true)
      return 0
    }
    const statement = sql`UPDATE users SET roles = ${jsonList(roles)}, updated_at = ${NOW_SECONDS}
      WHERE username = ${username} RETURNING id, username`
    const audit = userAuditStatement('roles_changed', { username }, { to: roles })
    const [rows = []] = await executeSql(target, joinStatements([statement, audit]))
    if (!rows[0]) throw noSuchUser(username)
    out(`set roles of ${String(rows[0].username)} to ${roles.join(', ')}`)
    return 0
  },
}

export const disableUser: AdminCommand = {
  name: 'disable',
  summary: 'disable a user, end every session and suspend its API keys',
  help: `Usage: npm run admin -- disable <username> [target]

Disables the account (logins fail as for a wrong password) and ends every session: every refresh
token is revoked and every access token issued until now is void (subject_revocations in D1, read
by strict routes at once, plus its KV edge copy revoked:sub:<id> for the default routes).
The user's API keys stop working while the account is disabled: strict routes read the owner's
state from D1 at once, default routes via KV tombstones apikey:<id> written now (other locations
within KV's propagation, up to 60 s). The keys are not revoked: enable makes them work again
(use revoke-user to end them for good).

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const remote = remoteOf(values)
    if (remote) {
      await remoteSetDisabled(remote, username, true, values.json === true)
      return 0
    }
    const ttl = revocationTtlSeconds(target, CONFIG_PATH)
    const statements = [
      sql`UPDATE users SET disabled = 1, updated_at = ${NOW_SECONDS} WHERE username = ${username} RETURNING id`,
      ...revokeUserStatements(username),
      userApiKeysStatement(username),
      userAuditStatement('user_disabled', { username }),
    ]
    const [updated = [], revocation = [], refresh = [], browserSessions = [], keys = []] = await executeSql(
      target,
      joinStatements(statements),
    )
    const outcome = readRevocation(revocation, refresh)
    if (!updated[0] || !outcome) throw noSuchUser(username)
    out(`disabled ${username} (id ${outcome.userId}); ${browserSessions.length} browser session(s) ended`)
    await publishRevocation(target, outcome, ttl)
    await publishApiKeyTombstones(target, outcome.userId, keys, `suspended ${keys.length} API key(s)`)
    return 0
  },
}

export const enableUser: AdminCommand = {
  name: 'enable',
  summary: 'enable a disabled user',
  help: `Usage: npm run admin -- enable <username> [target]

Lets the user log in again. Sessions ended by disable stay ended: the user logs in anew.
API keys suspended by disable work again (on default routes once their tombstones expire, 60 s).

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const remote = remoteOf(values)
    if (remote) {
      await remoteSetDisabled(remote, username, false, values.json === true)
      return 0
    }
    const statement = sql`UPDATE users SET disabled = 0, updated_at = ${NOW_SECONDS} WHERE username = ${username} RETURNING id`
    const audit = userAuditStatement('user_enabled', { username })
    const [rows = []] = await executeSql(target, joinStatements([statement, audit]))
    if (!rows[0]) throw noSuchUser(username)
    out(`enabled ${username} (id ${String(rows[0].id)})`)
    return 0
  },
}

export const revokeUser: AdminCommand = {
  name: 'revoke-user',
  summary: 'end every session and API key of a user (without disabling)',
  help: `Usage: npm run admin -- revoke-user <username> [target]

Ends every credential of the user without disabling the account: every refresh token is revoked,
every access token issued until now is void, and every API key is revoked (revoked_at in D1).
Strict routes (revocation = "strict") read D1 and refuse them at once; default routes read the KV
edge copies written now (revoked:sub:<id>, and a tombstone apikey:<id> per key), at once in this
location and elsewhere within KV's propagation (up to 60 s). The user can log in again and create
new keys.

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const remote = remoteOf(values)
    if (remote) {
      await remoteRevokeUser(remote, username, values.json === true)
      return 0
    }
    const ttl = revocationTtlSeconds(target, CONFIG_PATH)
    const statements = [
      ...revokeUserStatements(username),
      revokeUserApiKeysStatement(username),
      userApiKeysStatement(username),
      userAuditStatement('admin_action', { username }, { action: 'revoke_user' }),
    ]
    const [revocation = [], refresh = [], browserSessions = [], revokedKeys = [], keys = []] =
      await executeSql(target, joinStatements(statements))
    const outcome = readRevocation(revocation, refresh)
    if (!outcome) throw noSuchUser(username)
    out(
      `revoked every session and API key of ${username} (id ${outcome.userId}); ${browserSessions.length} browser session(s) ended`,
    )
    await publishRevocation(target, outcome, ttl)
    await publishApiKeyTombstones(target, outcome.userId, keys, `revoked ${revokedKeys.length} API key(s)`)
    return 0
  },
}
