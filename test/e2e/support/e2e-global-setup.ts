/**
 * Once per e2e run, before any file: the migrated local D1 state every gateway starts from
 * (./migrated-state.ts) and the endpoint that hands out the shared gateway (./shared-gateway.ts);
 * both go when the run ends.
 */
import type { TestProject } from 'vitest/node'
import { buildMigratedState } from './migrated-state'
import { serveSharedGateway } from './shared-gateway'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const state = await buildMigratedState()
  project.provide('migratedState', state.dir)
  const shared = await serveSharedGateway(state.dir)
  project.provide('sharedGatewayControl', shared.url)
  return async () => {
    await shared.close()
    await state.remove()
  }
}
