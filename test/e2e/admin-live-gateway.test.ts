/**
 * The operator CLI used while clients are connected to a running gateway (`npm start`): one client
 * holds ONE kept-alive connection (a node:http Agent with maxSockets 1) and keeps using it while
 * `create-user` (D1) and `revoke-user` (D1 and KV) run; every request, and the login of the new
 * user afterwards, must travel on that same socket.
 *
 * Why the reported drop ("UND_ERR_SOCKET other side closed" after a CLI call) was not the CLI:
 * the CLI only runs `wrangler d1 execute` / `wrangler kv key put`, which write the SQLite files
 * under `.wrangler/state`, and `wrangler dev` does not watch that directory (it watches the config
 * file and the bundle's sources), so nothing reloads and no connection is closed. What closes a
 * connection is workerd's HTTP server itself: it ends a kept-alive connection after 5 s without a
 * request (kj's fixed pipeline timeout; no Keep-Alive header announces it). Node's fetch gives up
 * an idle connection after 4 s on its own, so a client whose event loop runs never notices; a
 * client that blocks its event loop across the call (execSync of the CLI, which takes 4-20 s on a
 * busy machine; a bare `wrangler d1 execute` usually stays under 5 s) cannot see the close and
 * writes its next request into the dead socket. Any `sleep 6` does the same. Hence the request
 * every second here: the connection is never idle for 5 s, so a drop can only come from the CLI.
 *
 * Time budget: ~25 s on a 2-core machine (one gateway, two CLI processes with wrangler under them).
 * Measured 22 s at load 2.
 */

import { readFile, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devVar } from '../../scripts/lib/dev-vars'
import { generateDataKeySet } from '../../scripts/lib/key-set'
import { admin, type Run } from './admin-support'
import { type RunningGateway, startGateway } from './support/gateway'

const PEPPER = 'live-gateway-test-pepper'
const PASSWORD = 'a long passphrase ok'
// Well under workerd's 5 s idle close, with room for a busy machine.
const PING_INTERVAL_MS = 1_000
const SLOW = { timeout: 240_000 }

let gateway: RunningGateway
let agent: Agent
let dataKeys = ''

beforeAll(async () => {
  // The CLI and the gateway must hash with the same pepper: .dev.vars for the Worker, the
  // environment for the CLI (which runs from the project root, not the gateway's copy).
  gateway = await startGateway({
    // An existing DATA_KEYS too: npm start adds what is missing and never replaces it.
    prepare: async (dir) => {
      dataKeys = await generateDataKeySet()
      const text = `PASSWORD_PEPPER='${PEPPER}'\nDATA_KEYS='${dataKeys}'\n`
      await writeFile(join(dir, '.dev.vars'), text, { mode: 0o600 })
    },
  })
  agent = new Agent({ keepAlive: true, maxSockets: 1 })
}, SLOW.timeout)

afterAll(async () => {
  agent?.destroy()
  await gateway?.stop()
})

interface Sent {
  status: number
  body: string
  socket: Socket
  reused: boolean
}

/** One request through the single-connection agent; resolves with the socket it travelled on. */
function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<Sent>((resolve, reject) => {
    const request = httpRequest(
      `${gateway.origin}${path}`,
      { method, agent, headers },
      (response: IncomingMessage) => {
        let text = ''
        response.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk
        })
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: text,
            socket: request.socket as Socket,
            reused: request.reusedSocket,
          }),
        )
      },
    )
    request.once('error', reject)
    request.end(body)
  })
}

/** Runs `work` while sending a proxied request every PING_INTERVAL_MS on the same connection. */
async function whilePinging<T>(work: Promise<T>): Promise<{ result: T; pings: Sent[] }> {
  const pings: Sent[] = []
  let done = false
  const finished = work.finally(() => {
    done = true
  })
  while (!done) {
    await Promise.race([new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS)), finished])
    if (!done) pings.push(await send('GET', '/api/public/still-here'))
  }
  return { result: await finished, pings }
}

function cli(args: string[], stdin?: string): Promise<Run> {
  return admin(join(gateway.dir, '.wrangler', 'state'), args, { stdin, env: { PASSWORD_PEPPER: PEPPER } })
}

describe('the operator CLI against a running gateway', SLOW, () => {
  it('keeps a client kept-alive connection open across create-user and revoke-user, and the new user logs in on it', async () => {
    const first = await send('GET', '/healthz')
    expect(first.status).toBe(200)
    const socket = first.socket

    const created = await whilePinging(cli(['create-user', 'live-op', '--password-stdin'], `${PASSWORD}\n`))
    expect(created.result.code, created.result.stderr).toBe(0)
    // The connection was in use while the CLI ran, not merely before and after.
    expect(created.pings.length).toBeGreaterThan(0)
    const revoked = await whilePinging(cli(['revoke-user', 'live-op']))
    expect(revoked.result.code, revoked.result.stderr).toBe(0)

    const login = await send(
      'POST',
      '/auth/token',
      new URLSearchParams({ grant_type: 'password', username: 'live-op', password: PASSWORD }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' },
    )
    expect(login.status, login.body).toBe(200)
    expect(JSON.parse(login.body)).toMatchObject({ token_type: 'Bearer' })

    const sent = [...created.pings, ...revoked.pings, login]
    expect(sent.map((each) => each.status)).toEqual(
      [...created.pings, ...revoked.pings].map(() => 200).concat(200),
    )
    for (const each of sent) {
      expect(each.socket).toBe(socket)
      expect(each.reused).toBe(true)
    }
    expect(socket.destroyed).toBe(false)
  })
})

describe('npm start with an existing .dev.vars', () => {
  it('adds the missing SIGNING_KEYS and REGISTRATION=on and keeps what was there (DATA_KEYS too)', async () => {
    const text = await readFile(join(gateway.dir, '.dev.vars'), 'utf8')
    expect(devVar(text, 'PASSWORD_PEPPER')).toBe(PEPPER)
    expect(devVar(text, 'DATA_KEYS')).toBe(dataKeys)
    expect(text.match(/^DATA_KEYS=/gm)).toHaveLength(1)
    expect(devVar(text, 'SIGNING_KEYS')).toMatch(/^\{"keys":\[/)
    expect(devVar(text, 'REGISTRATION')).toBe('on')
  })
})
