import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { type EchoServer, startEchoServer } from '../../scripts/echo-upstream'
import { type RunningGateway, startGateway } from './support/gateway'

let echo: EchoServer
let gateway: RunningGateway

beforeAll(async () => {
  echo = await startEchoServer(0)
  gateway = await startGateway({ upstreamUrl: echo.origin })
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
})
