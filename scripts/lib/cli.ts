/** Small helpers shared by the scripts: stderr messages, failures, help handling. */

/** Everything but a command's actual output goes to stderr, so stdout can be piped. */
export function info(message: string): void {
  process.stderr.write(`${message}\n`)
}

/** A failure the user can act on: one line on stderr, then exit (no stack trace). */
export function fail(message: string, code = 1): never {
  process.stderr.write(`error: ${message}\n`)
  process.exit(code)
}

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h')
}

/** `npm run x -- a b` passes `a b`; `tsx scripts/x.ts -- a b` passes `-- a b`. Accept both. */
export function scriptArgs(argv: readonly string[] = process.argv): string[] {
  const args = argv.slice(2)
  return args[0] === '--' ? args.slice(1) : args
}

/** The error text of something thrown, for a one-line message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
