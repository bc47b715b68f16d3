import type { TestProject } from 'vitest/node'
import { startEchoServer } from '../scripts/echo-upstream'

// A real HTTP upstream on loopback for the workerd tests; its origin reaches the Worker as UPSTREAM_URL.
export default async function setup(project: TestProject) {
  const echo = await startEchoServer(0)
  project.provide('upstreamOrigin', echo.origin)
  return async () => {
    await echo.close()
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    upstreamOrigin: string
  }
}
