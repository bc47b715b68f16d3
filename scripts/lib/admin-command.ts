/** The shape of one admin CLI command and the small helpers they share. */

export interface AdminCommand {
  name: string
  /** One line for the top-level help. */
  summary: string
  /** The command's full `--help` text. */
  help: string
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(args: string[]): Promise<number>
}

/** A mistake in how the command was called: reported with a pointer to `--help`. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Writes a line of the command's result to stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

export function exactlyPositionals(positionals: string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(`expected ${names.map((name) => `<${name}>`).join(' ')}`)
  }
  return positionals
}
