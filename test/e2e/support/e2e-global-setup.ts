/**
 * Once per e2e run, before any file: the migrated local D1 state every gateway starts from
 * (./migrated-state.ts), removed when the run ends.
 */
import type { TestProject } from 'vitest/node'
import { buildMigratedState } from './migrated-state'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const state = await buildMigratedState()
  project.provide('migratedState', state.dir)
  return () => state.remove()
}
