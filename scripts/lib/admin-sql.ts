/**
 * SQL text for `wrangler d1 execute --command`, which takes no bind parameters: every value is
 * inlined as a literal here and nowhere else. Strings become single-quoted SQLite literals with
 * `'` doubled (the only escape SQLite's string syntax has: a backslash is an ordinary character),
 * numbers must be safe integers, and anything that is not plain SQL comes from the `sql` tag.
 */

/** A fragment of SQL text that is inlined as is: only ever built by `sql` or `raw` below. */
export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

export type SqlValue = string | number | boolean | null | SqlFragment

// SQLite ends a C string at NUL and D1 rejects it; a lone surrogate cannot be encoded as UTF-8
// (TextEncoder would turn it into U+FFFD), so the stored text would differ from the input.
const UNREPRESENTABLE = /\0|\p{Cs}/u

/** A SQLite string literal: `'` doubled. Refuses NUL and unpaired surrogates instead of altering them. */
export function quoteString(value: string): string {
  if (UNREPRESENTABLE.test(value)) {
    throw new Error('a value contains a NUL character or invalid Unicode and cannot be stored')
  }
  return `'${value.replaceAll("'", "''")}'`
}

export function literal(value: SqlValue): string {
  if (value instanceof SqlFragment) return value.text
  if (value === null) return 'NULL'
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer for SQL: ${value}`)
    return String(value)
  }
  return quoteString(value)
}

/** Tagged template: interpolations become literals, so `sql\`... WHERE username = ${name}\`` is safe. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlFragment {
  let text = strings[0] ?? ''
  values.forEach((value, index) => {
    text += literal(value) + (strings[index + 1] ?? '')
  })
  return new SqlFragment(text)
}

/** Trusted SQL text (an expression written in this codebase, never input). */
export function raw(text: string): SqlFragment {
  return new SqlFragment(text)
}

/** A JSON list stored as text, as src/db/json.ts reads it. */
export function jsonList(values: readonly string[]): string {
  return JSON.stringify(values)
}

/**
 * The database's clock in milliseconds. Revocation compares it with the issue time the Worker
 * stamps into each token, so D1's clock (Cloudflare's, like the Worker's) beats the operator's laptop.
 */
export const NOW_MS = raw("CAST(unixepoch('subsec') * 1000 AS INTEGER)")
/** The database's clock in seconds, as the Worker's `nowSeconds()` stores timestamps. */
export const NOW_SECONDS = raw('unixepoch()')

/** Statements joined for one `--command`; each must be a single statement without a trailing `;`. */
export function joinStatements(statements: readonly SqlFragment[]): string {
  return statements.map((statement) => `${statement.text};`).join('\n')
}
