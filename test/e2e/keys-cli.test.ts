/**
 * `npm run keys`: the values it prints for SIGNING_KEYS and DATA_KEYS are accepted by the Worker's
 * own loaders, stdout holds the value alone, rotation keeps the old keys behind a new first one,
 * and a malformed current value is refused. The CLI runs as its own process (the process is the
 * subject), in an empty directory so `.dev.vars` is the test's own.
 *
 * Time budget: ~15 s on a 2-core machine (nine tsx processes, up to three at a time, no gateway).
 * Measured 14 s while the workers suite ran beside it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { assertValidDataKeySet, assertValidKeySet } from '../../scripts/lib/key-set'
import { PROJECT_ROOT } from './support/project-copy'
import { type Run, runProcess, TSX_CLI } from './support/run-process'

const KEYS = join(PROJECT_ROOT, 'scripts', 'keys.ts')

let dir: string

function keys(args: readonly string[], stdin = ''): Promise<Run> {
  return runProcess(process.execPath, [TSX_CLI, KEYS, ...args], { cwd: dir, stdin })
}

function kids(value: string): string[] {
  return (JSON.parse(value) as { keys: { kid: string }[] }).keys.map((key) => key.kid)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edge-auth-keys-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('generating', () => {
  test('generate and generate-data print one value each, nothing else on stdout, that the Worker accepts', async () => {
    const [signing, data] = await Promise.all([keys(['generate']), keys(['generate-data'])])
    expect(signing.code).toBe(0)
    expect(data.code).toBe(0)
    expect(signing.stdout.trim().split('\n')).toHaveLength(1)
    expect(data.stdout.trim().split('\n')).toHaveLength(1)
    expect((await assertValidKeySet(signing.stdout.trim())).keys).toHaveLength(1)
    const set = await assertValidDataKeySet(data.stdout.trim())
    expect(set.keys).toEqual([
      {
        kty: 'oct',
        kid: expect.stringMatching(/^\d{8}-[0-9a-f]{12}$/),
        alg: 'A256GCM',
        k: expect.any(String),
      },
    ])
    expect(data.stderr).toMatch(/DATA_KEYS: 1 key\(s\), the first one seals/)
    // Random, derived from nothing: two runs never print the same key.
    const again = await keys(['generate-data'])
    expect(again.stdout).not.toBe(data.stdout)
  })

  test('generate-data refuses --alg (its keys are AES-256-GCM only) with usage status 2', async () => {
    const result = await keys(['generate-data', '--alg', 'EdDSA'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/generate-data takes no --alg/)
  })
})

describe('rotating DATA_KEYS', () => {
  test('rotate-data prepends a new sealing key and keeps the old ones (from stdin, a file, or .dev.vars)', async () => {
    const current = (await keys(['generate-data'])).stdout.trim()
    const file = join(dir, 'current.json')
    await writeFile(file, current)
    await writeFile(join(dir, '.dev.vars'), `DATA_KEYS='${current}'\n`)
    const [piped, fromFile, fromDevVars] = await Promise.all([
      keys(['rotate-data'], current),
      keys(['rotate-data', '--from-file', file]),
      keys(['rotate-data']),
    ])
    for (const result of [piped, fromFile, fromDevVars]) {
      expect(result.code, result.stderr).toBe(0)
      const next = result.stdout.trim()
      await assertValidDataKeySet(next)
      expect(kids(next)).toHaveLength(2)
      expect(kids(next)[1]).toBe(kids(current)[0])
      expect(kids(next)[0]).not.toBe(kids(current)[0])
    }
    expect(fromDevVars.stderr).toMatch(/rotating DATA_KEYS from \.dev\.vars/)
  })

  test('rotate-data refuses a malformed current value (a SIGNING_KEYS set) without printing a value', async () => {
    const signing = (await keys(['generate'])).stdout.trim()
    const result = await keys(['rotate-data'], signing)
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/DATA_KEYS: keys\.0\.kty/)
  })
})
