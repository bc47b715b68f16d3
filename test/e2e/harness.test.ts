/**
 * The e2e harness itself: startGateway() survives a port taken between freePort() and the bind.
 * `wrangler dev` binds seconds after `npm start` began (after the D1 migrations) and needs ISSUER,
 * hence the port, before it binds, so port 0 is no way out; the harness starts again on other ports.
 * Whoever took the port may answer /healthz (another run's gateway on this shared machine did), so
 * the harness also checks that the server it found publishes its copy's signing key.
 *
 * Time budget: ~30 s on a 2-core machine (one `npm start` that fails at the bind, one gateway).
 * Measured 24-29 s at load 2-4.
 */
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/lib/ports'
import { PORT_TAKEN, type RunningGateway, startGateway } from './support/gateway'

const SLOW = { timeout: 240_000 }

let blocker: Server | undefined
let gateway: RunningGateway | undefined

afterAll(async () => {
  await gateway?.stop()
  blocker?.close()
})

/** Another gateway, as far as a health check can tell: 200 everywhere, a JWKS of other keys. */
function impostor(): Server {
  return createServer((request, response) => {
    response.setHeader('content-type', 'application/json')
    response.end(request.url === '/.well-known/jwks.json' ? '{"keys":[{"kty":"EC","x":"not-ours"}]}' : '{}')
  })
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
}

describe('startGateway', () => {
  it(
    'starts on another port when its first port is taken, by a server that answers /healthz, after npm start checked it and before wrangler dev bound it',
    SLOW,
    async () => {
      const ports: number[] = []
      let firstCopy: string | undefined
      gateway = await startGateway({
        prepare: async (dir) => {
          firstCopy ??= dir
        },
        choosePort: async () => {
          const port = await freePort()
          ports.push(port)
          if (ports.length === 1) {
            // Taken once `npm start` has written .dev.vars: after its own port check, before the
            // migrations end and wrangler dev binds.
            const taken = setInterval(() => {
              if (!existsSync(join(firstCopy as string, '.dev.vars'))) return
              clearInterval(taken)
              blocker = impostor()
              listen(blocker, port).catch(() => undefined)
            }, 20)
          }
          return port
        },
      })
      expect(ports).toHaveLength(2)
      expect(blocker?.listening).toBe(true)
      // The first attempt got as far as wrangler dev's bind, past start.ts's own check.
      expect(gateway.portsTaken).toHaveLength(1)
      expect(gateway.portsTaken[0]).toContain(`Address already in use (127.0.0.1:${ports[0]})`)
      expect(gateway.port).toBe(ports[1])
      expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${ports[0]}/healthz`)).status).toBe(200) // the impostor
    },
  )

  it('recognises the messages npm start exits with when a port is taken, and only those', () => {
    for (const message of [
      // wrangler dev (4.86) when workerd cannot bind
      '✘ [ERROR] Address already in use (127.0.0.1:36365). Please check that you are not already running a server on this address or specify a different port with --port.',
      // scripts/start.ts's own check
      'error: port 40123 on 127.0.0.1 is in use; set PORT to another port',
      // a Node listener (demo upstream, stand-in providers)
      'Error: listen EADDRINUSE: address already in use 127.0.0.1:40124',
    ])
      expect(PORT_TAKEN.test(message), message).toBe(true)
    for (const message of [
      'error: applying D1 migrations failed (wrangler exited with 1)',
      '[wrangler:warn] Unable to fetch the `Request.cf` object! Falling back to a default placeholder...',
    ])
      expect(PORT_TAKEN.test(message), message).toBe(false)
  })
})
