/** reset-factors: remove a user's authenticator app and recovery codes (issue 22, item 5). */
import { userAuditStatement } from './admin-audit'
import { type AdminCommand, exactlyPositionals, out } from './admin-command'
import { executeSql } from './admin-d1'
import { adminRequest, findRemoteUser, userPath } from './admin-http'
import { assertUsername } from './admin-names'
import { joinStatements, NOW_SECONDS, sql } from './admin-sql'
import { parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

export const resetFactors: AdminCommand = {
  name: 'reset-factors',
  summary: "remove a user's second factors (authenticator app, recovery codes)",
  help: `Usage: npm run admin -- reset-factors <username> [target]

For a user who lost their authenticator app and recovery codes: removes both and turns the second
step off, so the password alone signs in and a new app can be set up. Audited as factors_reset.
Sessions are left alone (revoke-user ends them). Same as POST /admin/users/{id}/reset-factors.

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    const target = readTarget(values)
    const username = assertUsername(exactlyPositionals(positionals, ['username'])[0] as string)
    const remote = remoteOf(values)
    if (remote) {
      const user = await findRemoteUser(remote, username)
      const { data } = await adminRequest(remote, 'POST', userPath(user.id, '/reset-factors'))
      if (values.json === true) out(JSON.stringify(data, null, 2))
      else out(`reset the second factors of ${user.username} (id ${user.id})`)
      return 0
    }
    const owner = sql`(SELECT id FROM users WHERE username = ${username})`
    const statements = [
      sql`UPDATE users SET mfa_enabled = 0, updated_at = ${NOW_SECONDS} WHERE username = ${username} RETURNING id`,
      sql`DELETE FROM totp_credentials WHERE user_id = ${owner}`,
      sql`DELETE FROM recovery_codes WHERE user_id = ${owner}`,
      userAuditStatement('factors_reset', { username }, { via: 'cli' }),
    ]
    const [rows = []] = await executeSql(target, joinStatements(statements))
    if (!rows[0]) throw new Error(`no user "${username}"`)
    out(`reset the second factors of ${username} (id ${String(rows[0].id)})`)
    return 0
  },
}
