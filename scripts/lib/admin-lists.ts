/**
 * users and audit: read-only lists, from the admin API with --url or from D1 through wrangler.
 * A table on stdout for people; --json prints one JSON object per line (JSON Lines) for programs.
 */
import { type AdminCommand, UsageError } from './admin-command'
import { executeSql, type Row } from './admin-d1'
import { adminRequest, type RemoteTarget } from './admin-http'
import { joinStatements, sql } from './admin-sql'
import { printJsonLines, printTable } from './admin-table'
import { parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

const AUDIT_TYPE = /^[a-z_]{1,40}$/
const POLL_MS = 2_000

function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const limit = Number(value)
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new UsageError(`--limit must be 1..${max}`)
  return limit
}

function isoSeconds(value: unknown): string {
  return typeof value === 'number' ? new Date(value * 1000).toISOString().slice(0, 19).replace('T', ' ') : ''
}

export const listUsers: AdminCommand = {
  name: 'users',
  summary: 'list users with their roles and status',
  help: `Usage: npm run admin -- users [--query TEXT] [--limit N] [--json] [target | --url URL]

Lists users by username: id, roles, status and creation time. --query keeps usernames containing
TEXT. --json prints one JSON object per line.

  --query TEXT   usernames containing TEXT
  --limit N      at most N users (1..1000, default 100)

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      query: { type: 'string' },
      limit: { type: 'string' },
    })
    if (positionals.length > 0) throw new UsageError('users takes no positional arguments')
    const limit = parseLimit(values.limit, 100, 1000)
    const remote = remoteOf(values)
    const users = remote
      ? await remoteUsers(remote, values.query, limit)
      : await d1Users(readTarget(values), values.query, limit)
    if (values.json) printJsonLines(users)
    else
      printTable(
        ['username', 'id', 'roles', 'status', 'created'],
        users.map((user) => ({
          ...user,
          status: user.disabled ? 'disabled' : 'active',
          created: isoSeconds(user.created_at),
        })),
      )
    return 0
  },
}

interface UserRow {
  id: string
  username: string
  roles: string[]
  disabled: boolean
  created_at: number
}

async function remoteUsers(
  remote: RemoteTarget,
  query: string | undefined,
  limit: number,
): Promise<UserRow[]> {
  const users: UserRow[] = []
  let cursor: string | null = null
  do {
    const params = new URLSearchParams({ limit: String(Math.min(200, limit - users.length)) })
    if (query) params.set('q', query)
    if (cursor) params.set('cursor', cursor)
    const { data } = await adminRequest<{ items: UserRow[]; next_cursor: string | null }>(
      remote,
      'GET',
      `/admin/users?${params}`,
    )
    users.push(...data.items)
    cursor = data.next_cursor
  } while (cursor && users.length < limit)
  return users
}

async function d1Users(target: ReturnType<typeof readTarget>, query: string | undefined, limit: number) {
  const pattern = query === undefined ? null : `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const statement = sql`SELECT id, username, roles, disabled, created_at FROM users
    WHERE ${pattern} IS NULL OR username LIKE ${pattern} ESCAPE '\\'
    ORDER BY username COLLATE NOCASE LIMIT ${limit}`
  const [rows = []] = await executeSql(target, joinStatements([statement]))
  return rows.map((row) => ({
    id: String(row.id),
    username: String(row.username),
    roles: JSON.parse(String(row.roles ?? '[]')) as string[],
    disabled: row.disabled === 1,
    created_at: Number(row.created_at),
  }))
}

type Event = Record<string, unknown> & { id: string }

interface AuditFilters {
  type?: string
  actor?: string
  subject?: string
  since?: string
  until?: string
}

async function remoteEvents(
  remote: RemoteTarget,
  filters: AuditFilters,
  options: { limit: number; after?: string },
): Promise<Event[]> {
  const params = new URLSearchParams({ limit: String(options.limit) })
  if (filters.type) params.set('type', filters.type)
  if (filters.actor) params.set('actor_id', filters.actor)
  if (filters.subject) params.set('subject_id', filters.subject)
  if (filters.since) params.set('since', filters.since)
  if (filters.until) params.set('until', filters.until)
  if (options.after) params.set('after', options.after)
  const { data } = await adminRequest<{ items: Event[] }>(remote, 'GET', `/admin/audit?${params}`)
  // Newest first, unless following (then oldest first): printed oldest first either way.
  return options.after ? data.items : [...data.items].reverse()
}

function instantMs(value: string | undefined, name: string): number | null {
  if (value === undefined) return null
  const ms = /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value)
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be an ISO 8601 date-time or Unix seconds`)
  return ms
}

async function d1Events(
  target: ReturnType<typeof readTarget>,
  filters: AuditFilters,
  options: { limit: number; after?: string },
): Promise<Event[]> {
  const after = options.after ?? null
  const statement = sql`SELECT * FROM audit_events
    WHERE (${filters.type ?? null} IS NULL OR type = ${filters.type ?? null})
      AND (${filters.actor ?? null} IS NULL OR actor_id = ${filters.actor ?? null})
      AND (${filters.subject ?? null} IS NULL OR subject_id = ${filters.subject ?? null})
      AND (${instantMs(filters.since, 'since')} IS NULL OR at_ms >= ${instantMs(filters.since, 'since')})
      AND (${instantMs(filters.until, 'until')} IS NULL OR at_ms < ${instantMs(filters.until, 'until')})
      AND (${after} IS NULL OR id > ${after})
    ORDER BY id ${after === null ? sql`DESC` : sql`ASC`} LIMIT ${options.limit}`
  const [rows = []] = await executeSql(target, joinStatements([statement]))
  const events = rows.map(({ at_ms, details, ...row }: Row) => ({
    ...row,
    at: new Date(Number(at_ms)).toISOString(),
    details: JSON.parse(String(details ?? '{}')),
  })) as unknown as Event[]
  return after === null ? events.reverse() : events
}

function printEvents(events: readonly Event[], json: boolean, header: boolean): void {
  if (json) {
    printJsonLines(events)
    return
  }
  // While following, an empty poll prints nothing (not even a header).
  if (events.length === 0 && !header) return
  printTable(['at', 'type', 'outcome', 'actor_id', 'subject_id', 'client_id', 'ip', 'details'], events)
}

export const audit: AdminCommand = {
  name: 'audit',
  summary: 'show (and follow) the audit log',
  help: `Usage: npm run admin -- audit [--type T] [--actor ID] [--subject ID] [--since WHEN] [--until WHEN]
                                [--limit N] [--follow] [--json] [target | --url URL]

Prints audit events oldest first: the latest --limit (default 50) that match the filters. WHEN is
an ISO 8601 date-time or Unix seconds. --follow keeps polling every 2 s for new events (Ctrl-C
stops). --json prints one event per line, the same objects GET /admin/audit returns.

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      type: { type: 'string' },
      actor: { type: 'string' },
      subject: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      follow: { type: 'boolean' },
    })
    if (positionals.length > 0) throw new UsageError('audit takes no positional arguments')
    if (values.type !== undefined && !AUDIT_TYPE.test(values.type))
      throw new UsageError('--type is an event type')
    const limit = parseLimit(values.limit, 50, 1000)
    const filters: AuditFilters = values
    const remote = remoteOf(values)
    const target = remote ? undefined : readTarget(values)
    const fetchEvents = (options: { limit: number; after?: string }) =>
      remote
        ? remoteEvents(remote, filters, options)
        : d1Events(target as ReturnType<typeof readTarget>, filters, options)
    let events = await fetchEvents({ limit })
    printEvents(events, values.json === true, true)
    if (!values.follow) return 0
    let last = events[events.length - 1]?.id
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      events = last ? await fetchEvents({ limit: 1000, after: last }) : await fetchEvents({ limit })
      printEvents(events, values.json === true, false)
      last = events[events.length - 1]?.id ?? last
    }
  },
}
