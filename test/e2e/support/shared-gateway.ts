/**
 * One gateway for the files that need only *a* gateway with the shipped configuration (the demo
 * upstream and demo MCP server `npm start` starts, the stand-in login providers): a gateway start
 * is most of such a file's time (a project copy, `npm start`: tsx, wrangler dev's build, workerd).
 * The e2e run's main process owns it (support/e2e-global-setup.ts): the first file that asks starts
 * it with startGateway(), later files get the same one, and it stops when the run ends. A run of
 * files that never ask starts none.
 *
 * A file on the shared gateway does not own it, so it must not assume a fresh one: its users,
 * clients and API keys have names of its own, it looks only at what its own requests left (the
 * echo upstream's record by `x-test-id`, audit events by actor) and it changes no configuration.
 * A file that needs its own configuration, or whose subject is the start itself, starts its own.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inject } from 'vitest'
import { type RunningGateway, startGateway } from './gateway'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where a test file asks the main process for the shared gateway. */
    sharedGatewayControl: string
  }
}

type SharedGatewayInfo = Pick<
  RunningGateway,
  'origin' | 'port' | 'upstreamOrigin' | 'mcpUpstreamOrigin' | 'dir'
>

const POLL_MS = 250

export interface SharedGatewayControl {
  url: string
  close(): Promise<void>
}

/**
 * In the main process: an HTTP endpoint on loopback. POST starts the gateway if nothing started it
 * yet and answers 202 until it is up, then 200 with where it is (500 with the reason if it failed).
 */
export async function serveSharedGateway(stateTemplate: string): Promise<SharedGatewayControl> {
  let state: { gateway?: RunningGateway; error?: string } | undefined
  let starting: Promise<void> | undefined
  const server: Server = createServer((request, response) => {
    request.resume()
    starting ??= startGateway({ stateTemplate }).then(
      (gateway) => {
        state = { gateway }
      },
      (error: unknown) => {
        state = { error: error instanceof Error ? error.message : String(error) }
      },
    )
    const { gateway, error } = state ?? {}
    response.statusCode = gateway ? 200 : error ? 500 : 202
    const info: SharedGatewayInfo | undefined = gateway && {
      origin: gateway.origin,
      port: gateway.port,
      upstreamOrigin: gateway.upstreamOrigin,
      mcpUpstreamOrigin: gateway.mcpUpstreamOrigin,
      dir: gateway.dir,
    }
    response.end(error ?? JSON.stringify(info ?? {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/shared-gateway`,
    async close() {
      await new Promise((resolve) => server.close(resolve))
      await starting
      await state?.gateway?.stop()
    },
  }
}

/**
 * In a test file: the run's shared gateway (started on first use). Its stop() does nothing: the
 * run stops it after the last file.
 */
export async function sharedGateway(): Promise<RunningGateway> {
  const control = inject('sharedGatewayControl')
  if (!control) throw new Error('no shared gateway: run the e2e tests with -c vitest.e2e.config.ts')
  for (;;) {
    const response = await fetch(control, { method: 'POST' })
    const text = await response.text()
    if (response.status === 500) throw new Error(`the shared gateway did not start: ${text}`)
    if (response.status === 200) {
      const info = JSON.parse(text) as SharedGatewayInfo
      return {
        ...info,
        output: () => '(the shared gateway: its output goes to the e2e run, support/shared-gateway.ts)',
        portsTaken: [],
        stop: async () => undefined,
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}
