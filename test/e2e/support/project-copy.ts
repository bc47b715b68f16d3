import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const PROJECT_ROOT = resolve(import.meta.dirname, '../../..')

// What `npm start` needs; no .dev.vars and no .wrangler, so the copy starts like a fresh clone.
const ENTRIES = [
  'package.json',
  'wrangler.toml',
  'tsconfig.json',
  'tsconfig.node.json',
  'src',
  'scripts',
  'migrations',
]

export interface ProjectCopy {
  dir: string
  remove(): Promise<void>
}

/**
 * A throwaway copy of the project (node_modules symlinked). A test gateway runs in it, so its
 * .dev.vars, local D1/KV state and wrangler's build output never touch the developer's checkout.
 */
export async function createProjectCopy(): Promise<ProjectCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-auth-gateway-e2e-'))
  for (const entry of ENTRIES) await cp(join(PROJECT_ROOT, entry), join(dir, entry), { recursive: true })
  await symlink(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
