/** Output of list commands: an aligned table for people, JSON Lines with --json for programs. */

export function printJsonLines(rows: readonly unknown[]): void {
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`)
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Array.isArray(value)) return value.join(',')
  if (typeof value === 'object') return JSON.stringify(value)
  // Control characters from stored data must not move the terminal's cursor.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return String(value).replace(/[\u0000-\u001f\u007f]/g, ' ')
}

export function printTable(columns: readonly string[], rows: readonly Record<string, unknown>[]): void {
  const cells = rows.map((row) => columns.map((column) => cell(row[column])))
  const widths = columns.map((column, index) =>
    Math.min(60, Math.max(column.length, ...cells.map((line) => (line[index] ?? '').length))),
  )
  const format = (line: readonly string[]) =>
    line
      .map((value, index) => {
        const width = widths[index] ?? 0
        return (value.length > width ? `${value.slice(0, width - 1)}…` : value).padEnd(width)
      })
      .join('  ')
      .trimEnd()
  process.stdout.write(`${format(columns.map((column) => column.toUpperCase()))}\n`)
  for (const line of cells) process.stdout.write(`${format(line)}\n`)
}
