/**
 * The import rule of docs/architecture.md holds on src/, and the check fails on each kind of
 * forbidden import: up a floor, sideways, into a room other than by its index.ts, a route module
 * imported, and a loop. Each case adds one import line to the real tree (in memory) and expects
 * that line to be named.
 *
 * Time budget: ~5 s on a 2-core machine (one check-architecture process, the rest in memory).
 */
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkArchitecture, type Problem } from '../../scripts/lib/architecture'
import { PROJECT_ROOT } from './support/project-copy'

const run = promisify(execFile)
const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli')
const SRC = join(PROJECT_ROOT, 'src')

async function readTree(root: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>()
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue
    const full = join(entry.parentPath, entry.name)
    sources.set(relative(root, full).split(sep).join('/'), await readFile(full, 'utf8'))
  }
  return sources
}

let tree: Map<string, string>

/** The problems of the tree with `line` added at the top of `file`. */
function withImport(file: string, line: string): Problem[] {
  const text = tree.get(file)
  if (text === undefined) throw new Error(`no ${file} in src/`)
  return checkArchitecture(new Map(tree).set(file, `${line}\n${text}`))
}

beforeAll(async () => {
  tree = await readTree(SRC)
})

describe('the import rule of docs/architecture.md', () => {
  it('holds on src/ as it is', () => {
    expect(checkArchitecture(tree)).toEqual([])
  })

  it('refuses an import up a floor (the user record importing the OAuth room)', () => {
    const problems = withImport('users/store.ts', "import { clientCors } from '../oauth'")
    expect(problems).toContainEqual(
      expect.objectContaining({
        file: 'users/store.ts',
        imports: 'oauth/index.ts',
        message: 'oauth/ is above users/',
      }),
    )
  })

  it('refuses an import sideways (two rooms on one floor)', () => {
    const problems = withImport('users/throttle.ts', "import { denySubject } from '../revocation'")
    expect(problems.map((problem) => problem.message)).toContain(
      'users/ and revocation/ share a floor and do not import each other',
    )
  })

  it('refuses entering a room other than through its index.ts', () => {
    const problems = withImport('sessions/service.ts', "import { rotate } from '../tokens/refresh'")
    expect(problems).toContainEqual(
      expect.objectContaining({
        imports: 'tokens/refresh.ts',
        message: 'tokens/ is entered only through its index.ts',
      }),
    )
  })

  it("refuses importing another room's routes anywhere but the entry and admin/", () => {
    const problems = withImport('oauth/grants.ts', "import { sessionRoutes } from '../sessions/routes'")
    expect(problems).toContainEqual(
      expect.objectContaining({ file: 'oauth/grants.ts', imports: 'sessions/routes.ts' }),
    )
  })

  it('refuses a ground folder importing a room', () => {
    const problems = withImport('routing/route-table.ts', "import { AuditRecorder } from '../audit'")
    expect(problems).toContainEqual(expect.objectContaining({ message: 'audit/ is above routing/' }))
  })

  it('refuses an import loop, even a type-only one inside one folder', () => {
    const problems = withImport('crypto/bytes.ts', "import type { uuidv7 } from './uuid7'")
    const loops = problems
      .map((problem) => problem.message)
      .filter((message) => message.startsWith('import loop'))
    expect(loops).toHaveLength(1)
    expect(loops[0]).toMatch(
      /^import loop: crypto\/(bytes|uuid7)\.ts → crypto\/(uuid7|bytes)\.ts → crypto\/\1\.ts$/,
    )
  })

  it('`npm run check-architecture` passes on src/ and fails with the forbidden line named', async () => {
    const ok = await run(process.execPath, [TSX_CLI, 'scripts/check-architecture.ts'], { cwd: PROJECT_ROOT })
    expect(ok.stderr).toContain('imports follow docs/architecture.md')

    const copy = await mkdtemp(join(tmpdir(), 'gateway-architecture-'))
    try {
      await cp(SRC, copy, { recursive: true })
      const file = join(copy, 'tokens', 'issue.ts')
      await writeFile(
        file,
        `import { createAccount } from '../accounts/routes'\n${await readFile(file, 'utf8')}`,
      )
      const failed = await run(process.execPath, [TSX_CLI, 'scripts/check-architecture.ts', copy], {
        cwd: PROJECT_ROOT,
      }).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      )
      expect(failed?.code).toBe(1)
      expect(failed?.stderr).toContain('tokens/issue.ts → accounts/routes.ts')
    } finally {
      await rm(copy, { recursive: true, force: true })
    }
  })
})
