/**
 * import-users: users from another system, with the password hashes they already have. The Worker
 * verifies bcrypt and passlib pbkdf2_sha256 hashes and re-hashes to its own format at the first
 * successful login, so nobody has to choose a new password.
 */
import { readFile } from 'node:fs/promises'
import { type ParseFailure, parseStoredHash } from '../../src/users/password-hash-format'
import { type AdminCommand, exactlyPositionals, out } from './admin-command'
import { executeSql, MAX_COMMAND_BYTES } from './admin-d1'
import { NAME, USERNAME, USERNAME_RULE } from './admin-names'
import { joinStatements, jsonList, NOW_SECONDS, type SqlFragment, sql } from './admin-sql'
import { describeTarget, parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

// A valid line is a few hundred bytes; this bounds JSON.parse on a corrupt file.
const MAX_LINE_BYTES = 16 * 1024
const DEFAULT_ROLES = ['user']

export interface ImportCandidate {
  line: number
  username: string
  passwordHash: string
  roles: string[]
}

export type LineOutcome =
  | { line: number; imported: true; username: string }
  | { line: number; imported: false; reason: string }

const HASH_REFUSALS: Record<ParseFailure, string> = {
  malformed: 'unsupported password hash (expected bcrypt $2a$/$2b$/$2y$ or passlib $pbkdf2-sha256$)',
  iterations_too_high:
    'unsupported password hash: more PBKDF2 iterations than the Worker can verify (100000)',
  cost_too_high: 'unsupported password hash: bcrypt cost above 12',
}

/** Checks one line; never echoes the hash (or the line, which holds it). */
export function readImportLine(text: string, line: number): ImportCandidate | { reason: string } {
  if (Buffer.byteLength(text) > MAX_LINE_BYTES) return { reason: 'line too long' }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { reason: 'invalid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { reason: 'not a JSON object' }
  const record = value as Record<string, unknown>
  const { username, password_hash: passwordHash, roles = DEFAULT_ROLES } = record
  if (typeof username !== 'string' || !USERNAME.test(username))
    return { reason: `bad username: ${USERNAME_RULE}` }
  if (typeof passwordHash !== 'string') return { reason: 'password_hash missing or not a string' }
  const parsed = parseStoredHash(passwordHash)
  if (!parsed.ok) return { reason: HASH_REFUSALS[parsed.reason] }
  if (
    !Array.isArray(roles) ||
    roles.length === 0 ||
    !roles.every((role): role is string => typeof role === 'string' && NAME.test(role))
  ) {
    return { reason: 'roles must be a non-empty list of lowercase names' }
  }
  return { line, username, passwordHash, roles: [...new Set(roles)] }
}

function insertStatement(candidate: ImportCandidate): SqlFragment {
  return sql`INSERT INTO users (id, username, password_hash, roles, disabled, created_at, updated_at, password_changed_at)
    VALUES (${crypto.randomUUID()}, ${candidate.username}, ${candidate.passwordHash}, ${jsonList(candidate.roles)}, 0, ${NOW_SECONDS}, ${NOW_SECONDS}, ${NOW_SECONDS})
    ON CONFLICT(username) DO NOTHING RETURNING id`
}

/** Batches of statements that each fit in one `--command`. */
function chunk(
  candidates: ImportCandidate[],
): { candidates: ImportCandidate[]; statements: SqlFragment[] }[] {
  const batches: { candidates: ImportCandidate[]; statements: SqlFragment[]; bytes: number }[] = []
  for (const candidate of candidates) {
    const statement = insertStatement(candidate)
    const bytes = Buffer.byteLength(statement.text) + 2
    const last = batches.at(-1)
    if (last && last.bytes + bytes <= MAX_COMMAND_BYTES) {
      last.candidates.push(candidate)
      last.statements.push(statement)
      last.bytes += bytes
    } else {
      batches.push({ candidates: [candidate], statements: [statement], bytes })
    }
  }
  return batches
}

function report(outcome: LineOutcome): void {
  out(
    outcome.imported
      ? `line ${outcome.line}: imported ${outcome.username}`
      : `line ${outcome.line}: skipped: ${outcome.reason}`,
  )
}

export const importUsers: AdminCommand = {
  name: 'import-users',
  summary: 'import users with bcrypt or passlib hashes from a JSONL file',
  help: `Usage: npm run admin -- import-users <file.jsonl> [target]

Imports one user per line: {"username": "...", "password_hash": "...", "roles": ["user"]}
(roles optional, default ["user"]). Accepted hashes: bcrypt ($2a$, $2b$, $2y$, cost ≤ 12) and
passlib pbkdf2_sha256 ($pbkdf2-sha256$<rounds>$..., ≤ 100000 rounds). Users log in with their
old password; the Worker re-hashes it to its own format on the first login.

Reports every line: "line N: imported <username>" or "line N: skipped: <reason>" (invalid JSON,
bad username, unsupported hash, duplicate). Blank lines are ignored. Existing users are never
changed. Exits 0 when every line was imported, 1 otherwise.

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {})
    // The admin API takes passwords, never hashes: importing hashes stays an operator's D1 task.
    if (remoteOf(values)) throw new Error('import-users writes D1 directly; it has no --url form')
    const target = readTarget(values)
    const [file] = exactlyPositionals(positionals, ['file.jsonl'])
    const lines = (await readFile(file as string, 'utf8')).split(/\r?\n/)
    const outcomes: LineOutcome[] = []
    const candidates: ImportCandidate[] = []
    const seen = new Map<string, number>()
    lines.forEach((text, index) => {
      const line = index + 1
      if (text.trim() === '') return
      const result = readImportLine(text, line)
      if ('reason' in result) {
        outcomes.push({ line, imported: false, reason: result.reason })
        return
      }
      const key = result.username.toLowerCase()
      const first = seen.get(key)
      if (first !== undefined) {
        outcomes.push({
          line,
          imported: false,
          reason: `duplicate: ${result.username} is already on line ${first}`,
        })
        return
      }
      seen.set(key, line)
      candidates.push(result)
    })
    let failure: string | undefined
    for (const batch of chunk(candidates)) {
      if (failure !== undefined) {
        for (const c of batch.candidates)
          outcomes.push({ line: c.line, imported: false, reason: 'not attempted' })
        continue
      }
      try {
        const results = await executeSql(target, joinStatements(batch.statements), {
          secrets: batch.candidates.map((c) => c.passwordHash),
        })
        batch.candidates.forEach((c, i) => {
          const inserted = typeof results[i]?.[0]?.id === 'string'
          outcomes.push(
            inserted
              ? { line: c.line, imported: true, username: c.username }
              : { line: c.line, imported: false, reason: `duplicate: user ${c.username} already exists` },
          )
        })
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error)
        for (const c of batch.candidates)
          outcomes.push({ line: c.line, imported: false, reason: `database error: ${failure}` })
      }
    }
    outcomes.sort((a, b) => a.line - b.line)
    for (const outcome of outcomes) report(outcome)
    const imported = outcomes.filter((outcome) => outcome.imported).length
    process.stderr.write(
      `imported ${imported} of ${outcomes.length} user(s) into ${describeTarget(target)} D1; ${outcomes.length - imported} skipped\n`,
    )
    if (failure !== undefined) throw new Error(`import stopped: ${failure}`)
    return imported === outcomes.length ? 0 : 1
  },
}
