/**
 * The import rule of docs/architecture.md, checked over src/. Pure: it takes the files' text and
 * returns the problems, so the test can feed it a forbidden import without touching the tree.
 *
 * - Folders sit on floors (FLOORS, lowest first). A file imports only its own folder and lower
 *   floors: never up, never sideways into a folder of the same floor.
 * - Ground folders are imported file by file. Any other folder (a concept room, or the chains
 *   authn/ and proxy/) is entered from outside only through its `index.ts`.
 * - A room's HTTP face (`routes.ts`, `*-routes.ts`, `*-doc.ts`) stands above every floor: it may
 *   import any floor, through the same doors, and only the entry files and admin/ (which mounts
 *   the admin routes and assembles the OpenAPI document) import it.
 * - No import loop between files, type-only imports included.
 * Tests (`*.test.ts`) are not checked: a test may reach into what it tests.
 */
import path from 'node:path'

/** Lowest first. Folders on one floor do not import each other. */
export const FLOORS: readonly (readonly string[])[] = [
  // Ground: imported file by file.
  ['log.ts', 'crypto'],
  ['errors'],
  ['routing', 'db', 'http'],
  ['authz'],
  ['config'],
  ['audit'],
  ['env.ts'],
  ['pages', 'credential-input.ts'],
  // Concept rooms and the two chains, entered through their index.ts.
  ['rate-limit'],
  ['revocation', 'users'],
  ['tokens', 'mcp'],
  ['sessions'],
  ['passkeys', 'second-factor'],
  ['email'],
  ['api-keys'],
  ['authn'],
  ['login-providers'],
  ['oauth'],
  ['accounts'],
  ['proxy'],
  ['admin'],
]

/** Imported file by file: shared helpers with no state of a concept. */
export const GROUND: ReadonlySet<string> = new Set([
  'errors',
  'crypto',
  'log.ts',
  'config',
  'routing',
  'db',
  'http',
  'authz',
  'env.ts',
  'pages',
  'credential-input.ts',
])

/** The composition root: builds the Worker from every room. */
export const ENTRY: ReadonlySet<string> = new Set([
  'index.ts',
  'app.ts',
  'lib.ts',
  'request-setup.ts',
  'cleanup.ts',
])

const FACE = /(^|-)routes\.tsx?$|-doc\.ts$/

export interface Problem {
  file: string
  imports?: string
  message: string
}

/** `accounts/routes.ts` → `accounts`; `env.ts` → `env.ts`. */
export function unitOf(file: string): string {
  const slash = file.indexOf('/')
  return slash === -1 ? file : file.slice(0, slash)
}

export function isFace(file: string): boolean {
  return FACE.test(path.posix.basename(file))
}

const floorOf = new Map<string, number>()
FLOORS.forEach((units, floor) => {
  for (const unit of units) floorOf.set(unit, floor)
})

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/** The src-relative files `file` imports (relative specifiers only; packages are not ours). */
export function importsOf(file: string, text: string, files: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (const match of text.matchAll(IMPORT)) {
    const spec = (match[1] ?? match[2] ?? match[3] ?? '').split('?')[0] ?? ''
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec))
    const target = [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((name) => files.has(name))
    if (target) out.push(target)
  }
  return out
}

function checkImport(file: string, target: string): string | undefined {
  const from = unitOf(file)
  const to = unitOf(target)
  if (from === to) return undefined
  if (ENTRY.has(to)) {
    return ENTRY.has(from) ? undefined : `${to} is the composition root; nothing below imports it`
  }
  const fromFace = isFace(file)
  if (isFace(target)) {
    if (ENTRY.has(from) || from === 'admin') return undefined
    return 'a route module is mounted by app.ts (or admin/ for admin routes), not imported'
  }
  if (!GROUND.has(to) && path.posix.basename(target) !== 'index.ts') {
    return `${to}/ is entered only through its index.ts`
  }
  if (ENTRY.has(from) || fromFace) return undefined
  const fromFloor = floorOf.get(from)
  const toFloor = floorOf.get(to)
  if (fromFloor === undefined) return `${from} is on no floor of docs/architecture.md`
  if (toFloor === undefined) return `${to} is on no floor of docs/architecture.md`
  if (toFloor === fromFloor) return `${from}/ and ${to}/ share a floor and do not import each other`
  if (toFloor > fromFloor) return `${to}/ is above ${from}/`
  return undefined
}

function findLoops(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const loops: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string) => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next)
      if (seen === 'open') loops.push([...stack.slice(stack.indexOf(next)), next])
      else if (!seen) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node)
  return loops
}

/** Every problem in `sources` (src-relative path → text). */
export function checkArchitecture(sources: ReadonlyMap<string, string>): Problem[] {
  const files = new Set(sources.keys())
  const problems: Problem[] = []
  const graph = new Map<string, string[]>()
  for (const [file, text] of sources) {
    if (/\.test\.tsx?$/.test(file) || file.endsWith('.d.ts')) continue
    const targets = importsOf(file, text, files)
    graph.set(file, targets)
    for (const target of targets) {
      const message = checkImport(file, target)
      if (message) problems.push({ file, imports: target, message })
    }
  }
  for (const loop of findLoops(graph)) {
    problems.push({ file: loop[0] ?? '', message: `import loop: ${loop.join(' → ')}` })
  }
  return problems
}
