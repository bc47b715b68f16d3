// Time budget: ~20 s on a 2-core machine (one gateway; 1 s re-checks waited out).
// Measured 16 s at load 2.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { type EchoServer, startEchoServer } from '../../scripts/echo-upstream'
import { type RunningGateway, startGateway } from './support/gateway'

let echo: EchoServer
let gateway: RunningGateway

const PASSWORD = 'a long and unusual passphrase'
const RECHECK_SECONDS = 1

/** A short re-check interval, so a revocation reaches an open socket within a test's patience. */
async function fastRecheck(dir: string): Promise<void> {
  const path = join(dir, 'wrangler.toml')
  const toml = await readFile(path, 'utf8')
  if (!toml.includes('[vars.SETTINGS]\n')) throw new Error('wrangler.toml has no [vars.SETTINGS] table')
  await writeFile(
    path,
    toml.replace('[vars.SETTINGS]\n', `[vars.SETTINGS]\nwebsocket_recheck_seconds = ${RECHECK_SECONDS}\n`),
  )
}

/** `npm run admin -- create-user` in the gateway's project copy (its local D1 is the gateway's). */
function createUser(username: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'npm',
      ['run', '--silent', 'admin', '--', 'create-user', username, '--password-stdin'],
      {
        cwd: gateway.dir,
      },
    )
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`create-user: ${stderr}`))))
    child.stdin.end(`${PASSWORD}\n`)
  })
}

async function accessToken(username: string): Promise<string> {
  const response = await fetch(`${gateway.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD }).toString(),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

beforeAll(async () => {
  echo = await startEchoServer(0)
  gateway = await startGateway({ upstreamUrl: echo.origin, prepare: fastRecheck })
  await createUser('ws-e2e')
})

afterAll(async () => {
  await gateway?.stop()
  await echo?.close()
})

function wsUrl(path: string): string {
  return `${gateway.origin.replace(/^http/, 'ws')}${path}`
}

/** Opens a socket; resolves with it once open, or rejects with the HTTP status the handshake got. */
async function connect(path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl(path), { headers })
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate()
      reject(new Error(`handshake answered ${response.statusCode}`))
    })
    socket.once('error', reject)
  })
}

describe('WebSockets through the gateway', () => {
  test('a public route relays messages both ways, with no identity for the upstream', async () => {
    // A client-sent identity header must not survive the handshake.
    const socket = await connect('/api/public/ws', { 'x-auth-user': 'mallory' })
    try {
      socket.send('hello')
      const [first] = await once(socket, 'message')
      expect(String(first)).toBe('echo:hello|user:')
      socket.send('again')
      const [second] = await once(socket, 'message')
      expect(String(second)).toBe('echo:again|user:')
    } finally {
      socket.close()
    }
  })

  test('binary frames pass through unchanged', async () => {
    const socket = await connect('/api/public/ws')
    try {
      socket.send(Buffer.from([0, 1, 2, 255]))
      const [data, isBinary] = await once(socket, 'message')
      expect(isBinary).toBe(true)
      expect([...(data as Buffer)]).toEqual([0, 1, 2, 255])
    } finally {
      socket.close()
    }
  })

  test('a protected route refuses the handshake without credentials (401)', async () => {
    await expect(connect('/api/ws')).rejects.toThrow('handshake answered 401')
    await expect(connect('/api/admin/ws')).rejects.toThrow('handshake answered 401')
  })

  test('an authenticated socket is relayed both ways, text and binary, with the identity for the upstream', async () => {
    const socket = await connect('/api/ws', { authorization: `Bearer ${await accessToken('ws-e2e')}` })
    try {
      socket.send('hello')
      const [text] = await once(socket, 'message')
      expect(String(text)).toBe('echo:hello|user:ws-e2e')
      socket.send(Buffer.from([0, 1, 2, 255]))
      const [data, isBinary] = await once(socket, 'message')
      expect(isBinary).toBe(true)
      expect([...(data as Buffer)]).toEqual([0, 1, 2, 255])
    } finally {
      socket.close()
    }
  })

  test('an authenticated socket is closed with 1008 within the re-check bound after logout-all', async () => {
    const token = await accessToken('ws-e2e')
    const socket = await connect('/api/ws', { authorization: `Bearer ${token}` })
    socket.send('hello')
    await once(socket, 'message')
    const closed = once(socket, 'close')
    const logout = await fetch(`${gateway.origin}/auth/logout-all`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.status).toBe(204)
    const started = Date.now()
    const [code, reason] = await closed
    expect({ code, reason: String(reason) }).toEqual({ code: 1008, reason: 'credential revoked' })
    // The re-check interval plus the isolate's 2 s cache of revocation answers.
    expect(Date.now() - started).toBeLessThan((RECHECK_SECONDS + 2) * 1000 + 2000)
  })
})
