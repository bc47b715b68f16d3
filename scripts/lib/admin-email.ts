/** set-email: give a user an email address (or remove it), as PATCH /admin/users/{id} does (issue 23). */
import { normalizeEmail } from '../../src/users/email-address'
import { userAuditStatement } from './admin-audit'
import { type AdminCommand, out, UsageError } from './admin-command'
import { executeSql } from './admin-d1'
import { adminRequest, findRemoteUser, type RemoteTarget, userPath } from './admin-http'
import { assertUsername } from './admin-names'
import { joinStatements, NOW_SECONDS, type SqlFragment, sql } from './admin-sql'
import { parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type Who = { id: string } | { username: string }

/** A user id (a UUID) or a username. */
function readWho(value: string): Who {
  return USER_ID.test(value) ? { id: value.toLowerCase() } : { username: assertUsername(value) }
}

function whoText(who: Who): string {
  return 'id' in who ? `id ${who.id}` : who.username
}

/** The change, read from the arguments: an address (normalized as the Worker does) or none. */
function readChange(positionals: string[], values: { clear?: boolean; verified?: boolean }) {
  const [user, address, ...rest] = positionals
  if (user === undefined || rest.length > 0 || (address === undefined) === !values.clear)
    throw new UsageError('expected <username-or-id> and either <address> or --clear')
  if (values.clear && values.verified) throw new UsageError('--verified needs an address')
  if (address === undefined) return { who: readWho(user), email: null, verified: false }
  const email = normalizeEmail(address)
  if (!email) throw new Error('not an email address like name@example.com')
  return { who: readWho(user), email, verified: values.verified === true }
}

/**
 * The statements of users/store.ts's setUserEmail, inlined: a verified address is taken from an
 * unverified holder; one another user holds (verified, or unverified for an unverified set) is
 * not taken. A change ends the user's emailed tokens (a reset link to the old address must not
 * outlive it), and the audit row is written only when the address is now the user's.
 */
function setEmailStatements(who: Who, email: string | null, verified: boolean): SqlFragment[] {
  const owner = 'id' in who ? sql`${who.id}` : sql`(SELECT id FROM users WHERE username = ${who.username})`
  const taken = sql`SELECT 1 FROM users WHERE email = ${email} COLLATE NOCASE AND id <> ${owner}`
  const statements: SqlFragment[] = []
  if (email !== null && verified)
    statements.push(sql`UPDATE users SET email = NULL, email_verified = 0, updated_at = ${NOW_SECONDS}
      WHERE email = ${email} COLLATE NOCASE AND email_verified = 0 AND id <> ${owner}`)
  const applies = sql`(${email} IS NULL OR NOT EXISTS (${taken}))`
  statements.push(
    // Before the UPDATE, while the old address is still readable: only a change ends the links.
    sql`DELETE FROM email_tokens WHERE user_id = ${owner} AND ${applies}
      AND (SELECT email FROM users WHERE id = ${owner}) IS NOT ${email}`,
    sql`UPDATE users SET email = ${email}, email_verified = ${verified}, updated_at = ${NOW_SECONDS}
      WHERE id = ${owner} AND ${applies} RETURNING id, username`,
    sql`SELECT EXISTS (${taken}) AS taken`,
    userAuditStatement(
      'user_updated',
      who,
      { fields: ['email', 'email_verified'] },
      sql`email IS ${email} AND email_verified = ${verified}`,
    ),
  )
  return statements
}

async function remoteSetEmail(
  remote: RemoteTarget,
  who: Who,
  change: { email: string | null; verified: boolean },
  json: boolean,
): Promise<void> {
  const id = 'id' in who ? who.id : (await findRemoteUser(remote, who.username)).id
  const { data } = await adminRequest<{ id: string; username: string }>(remote, 'PATCH', userPath(id), {
    email: change.email,
    email_verified: change.verified,
  })
  if (json) out(JSON.stringify(data))
  else out(describe(data, change))
}

function describe(
  user: { id: string; username: string },
  change: { email: string | null; verified: boolean },
) {
  const who = `${user.username} (id ${user.id})`
  if (change.email === null) return `removed the email address of ${who}`
  return `set the email address of ${who} to ${change.email} (${change.verified ? 'verified' : 'unverified'})`
}

export const setEmail: AdminCommand = {
  name: 'set-email',
  summary: "set or remove a user's email address",
  help: `Usage: npm run admin -- set-email <username-or-id> <address> [--verified] [target]
       npm run admin -- set-email <username-or-id> --clear [target]

Gives the user the address (normalized as the Worker does: trimmed, the domain lowercased), or
removes it with --clear. Without --verified the address is stored unverified (the user can have
the link mailed again from the account page); --verified vouches for it, and then takes it from
an unverified holder. An address another user holds verified is refused, as is one anybody holds
when it is set unverified. A change ends the user's pending emailed links. Audited as user_updated.
Same as PATCH /admin/users/{id} with email and email_verified.

  --verified   mark the address verified
  --clear      remove the address

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      verified: { type: 'boolean' },
      clear: { type: 'boolean' },
    })
    const target = readTarget(values)
    const change = readChange(positionals, values)
    const remote = remoteOf(values)
    if (remote) {
      await remoteSetEmail(remote, change.who, change, values.json === true)
      return 0
    }
    const statements = setEmailStatements(change.who, change.email, change.verified)
    const results = await executeSql(target, joinStatements(statements))
    const offset = statements.length - 3
    const updated = results[offset]?.[0]
    if (!updated) {
      if (results[offset + 1]?.[0]?.taken === 1) throw new Error('another user holds that address')
      throw new Error(`no user "${whoText(change.who)}"`)
    }
    out(describe({ id: String(updated.id), username: String(updated.username) }, change))
    return 0
  },
}
