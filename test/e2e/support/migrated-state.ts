/**
 * The local D1 state every migration leaves, made once per e2e run and copied into each gateway's
 * project copy before `npm start`. It is made the way `npm start` makes it, by the real
 * `wrangler d1 migrations apply DB --local` in a project copy; `npm start` in a copy that holds it
 * still runs that step, which then finds nothing pending. Applying the migrations costs a Node
 * process and a workerd per migration, about 5 s of CPU for fourteen (measured 7.9 s of CPU from
 * scratch against 2.5 s with nothing pending); copying the state costs milliseconds.
 * A gateway that must start like a fresh clone (the README walkthrough) asks for `freshState`.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'
import { wranglerBin } from '../../../scripts/lib/wrangler'
import { createProjectCopy } from './project-copy'
import { runProcess } from './run-process'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A `.wrangler/state` directory with every migration applied (support/e2e-global-setup.ts). */
    migratedState: string
  }
}

/** Where a project's local state lives by default (wrangler's `.wrangler/state`). */
export const STATE_DIR = join('.wrangler', 'state')

export interface MigratedState {
  /** The `.wrangler/state` directory (what `--persist-to` names). */
  dir: string
  remove(): Promise<void>
}

/** Applies every migration in a fresh project copy with wrangler itself; returns its state. */
export async function buildMigratedState(): Promise<MigratedState> {
  const copy = await createProjectCopy()
  const applied = await runProcess(
    process.execPath,
    [wranglerBin(), 'd1', 'migrations', 'apply', 'DB', '--local'],
    {
      cwd: copy.dir,
      // CI=true: no confirmation prompt (scripts/lib/wrangler.ts, wranglerEnv).
      env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' },
    },
  )
  if (applied.code !== 0) {
    await copy.remove()
    throw new Error(`wrangler d1 migrations apply failed:\n${applied.stderr}${applied.stdout}`)
  }
  return { dir: join(copy.dir, STATE_DIR), remove: copy.remove }
}

/** The run's migrated state, as the e2e global setup provides it. */
export function migratedStateTemplate(): string {
  const dir = inject('migratedState')
  if (!dir) throw new Error('no migrated state: run the e2e tests with -c vitest.e2e.config.ts')
  return dir
}

/** Copies the migrated state to `target` (a `.wrangler/state` or a `--persist-to` directory). */
export async function copyMigratedState(target: string, template = migratedStateTemplate()): Promise<void> {
  await cp(template, target, { recursive: true })
}

/** A temporary `--persist-to` directory holding the migrated state. */
export async function createMigratedState(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-auth-admin-'))
  await copyMigratedState(dir)
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
