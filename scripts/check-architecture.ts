/**
 * npm run check-architecture: fails on an import that docs/architecture.md forbids (an upward or
 * sideways arrow, a room entered other than through its index.ts, a route module imported) and on
 * any import loop in src/. `npm run lint` runs it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { checkArchitecture } from './lib/architecture'
import { fail, info, scriptArgs, wantsHelp } from './lib/cli'

const HELP = `Usage: npm run check-architecture [-- <src dir>]

Reads every import in src/ (or the directory given) and fails on one that docs/architecture.md
forbids: an import up a floor or sideways, a concept room entered other than through its index.ts,
a route module imported by anything but app.ts or admin/, or an import loop.`

function readTree(root: string): Map<string, string> {
  const sources = new Map<string, string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (/\.tsx?$/.test(entry.name)) {
        sources.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full, 'utf8'))
      }
    }
  }
  walk(root)
  return sources
}

const args = scriptArgs()
if (wantsHelp(args)) {
  process.stdout.write(`${HELP}\n`)
  process.exit(0)
}
const root = path.resolve(args[0] ?? 'src')
const problems = checkArchitecture(readTree(root))
for (const problem of problems) {
  info(`${problem.file}${problem.imports ? ` → ${problem.imports}` : ''}: ${problem.message}`)
}
if (problems.length > 0) fail(`${problems.length} import(s) break docs/architecture.md`)
info('imports follow docs/architecture.md')
