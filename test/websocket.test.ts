import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login, PASSWORD, type Tokens } from './support/accounts'
import { createApiKey } from './support/api-keys'
import { forgeToken, nowSeconds } from './support/forge'
import { fetchWithEnv, gatewayFetch, testId, UPSTREAM } from './support/gateway'

// WebSockets do not keep the handshake's identity forever: the gateway relays them
// (src/proxy/websocket-relay.ts) and closes both sides with 1008 when the credential expires or a
// re-check finds it revoked. A short re-check interval comes from a SETTINGS override.

const POLICY_VIOLATION = 1008
const RECHECK_SECONDS = 1
// Timers fire late on a loaded 2-core machine (workerd's and the test's alike), so a close is
// awaited this long past its bound; closedWithin() returns as soon as it comes. Still well below
// the 30 s default re-check interval: a relay that ignored the configured one, or never re-checked,
// fails.
const LOADED_MACHINE_MARGIN_MS = 5_000
// The re-check interval, plus the isolate's 2 s cache of KV revocation answers on default routes.
const DEFAULT_ROUTE_BOUND_MS = (RECHECK_SECONDS + 2) * 1000 + LOADED_MACHINE_MARGIN_MS
// One re-check interval: strict routes read D1, no cache in between.
const STRICT_ROUTE_BOUND_MS = RECHECK_SECONDS * 1000 + LOADED_MACHINE_MARGIN_MS

type Through = (path: string, init: RequestInit) => Promise<Response>

function withSettings(settings: Record<string, unknown>, routes?: unknown[]): Through {
  const SETTINGS = { ...(env.SETTINGS as Record<string, unknown>), ...settings }
  return (path, init) => fetchWithEnv(routes ? { SETTINGS, ROUTES: routes } : { SETTINGS }, path, init)
}

const FAST_RECHECK = withSettings({ websocket_recheck_seconds: RECHECK_SECONDS })

interface OpenSocket {
  socket: WebSocket
  /** The next message, text or binary. */
  next(): Promise<string | ArrayBuffer>
  /** The close the client side received, or `{ code: 0 }` if none came within `ms`. */
  closedWithin(ms: number): Promise<{ code: number; reason: string }>
  id: string
}

async function openSocket(
  path: string,
  headers: Record<string, string>,
  through: Through = gatewayFetch,
): Promise<OpenSocket> {
  const id = testId()
  const response = await through(path, { headers: { upgrade: 'websocket', 'x-test-id': id, ...headers } })
  expect(response.status).toBe(101)
  const socket = response.webSocket
  if (!socket) throw new Error('no webSocket on the 101 response')
  socket.accept()
  socket.binaryType = 'arraybuffer'
  const inbox: (string | ArrayBuffer)[] = []
  const waiting: ((data: string | ArrayBuffer) => void)[] = []
  socket.addEventListener('message', (event) => {
    const data = event.data as string | ArrayBuffer
    const waiter = waiting.shift()
    if (waiter) waiter(data)
    else inbox.push(data)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason }))
  })
  const closedWithin = (ms: number) =>
    Promise.race([closed, scheduler.wait(ms).then(() => ({ code: 0, reason: 'still open' }))])
  const next = () => {
    const queued = inbox.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise<string | ArrayBuffer>((resolve) => waiting.push(resolve))
  }
  return { socket, next, closedWithin, id }
}

async function expectEcho(open: OpenSocket, username: string): Promise<void> {
  open.socket.send('ping')
  expect(await open.next()).toBe(`echo:ping|user:${username}`)
}

/** What the upstream's side of the socket saw when it was closed. */
async function upstreamCloses(id: string): Promise<{ code: number; reason: string }[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const closes = (await (await fetch(`${UPSTREAM}/__ws_closes/${id}`)).json()) as {
      code: number
      reason: string
    }[]
    if (closes.length > 0) return closes
    await scheduler.wait(50)
  }
  return []
}

async function signIn(username: string): Promise<Tokens> {
  await createUser(username)
  return login(username)
}

describe('a relayed WebSocket', () => {
  it('relays text and binary both ways on a protected route, with the identity for the upstream', async () => {
    const tokens = await signIn('ws-relay')
    const open = await openSocket('/api/ws', bearer(tokens.access_token))
    await expectEcho(open, 'ws-relay')
    open.socket.send(new Uint8Array([0, 1, 2, 255]))
    const binary = await open.next()
    expect(binary).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(binary as ArrayBuffer)]).toEqual([0, 1, 2, 255])
    await expectEcho(open, 'ws-relay')
    open.socket.close(4000, 'client done')
    expect(await upstreamCloses(open.id)).toEqual([{ code: 4000, reason: 'client done' }])
  })

  it("passes the upstream's close code and reason to the client", async () => {
    const tokens = await signIn('ws-upstream-close')
    const open = await openSocket('/api/ws', bearer(tokens.access_token))
    open.socket.send('__close 4001 upstream done')
    expect(await open.closedWithin(LOADED_MACHINE_MARGIN_MS)).toEqual({ code: 4001, reason: 'upstream done' })
  })
})

describe('a WebSocket whose credential expires', () => {
  it('is closed with 1008 on both sides when its access token expires, after relaying until then', async () => {
    const user = await createUser('ws-expiring')
    const exp = nowSeconds() + 2
    const token = await forgeToken({ sub: user.id, username: user.username, exp })
    const open = await openSocket('/api/ws', bearer(token))
    await expectEcho(open, 'ws-expiring')
    const closed = await open.closedWithin(exp * 1000 - Date.now() + LOADED_MACHINE_MARGIN_MS)
    expect(closed).toEqual({ code: POLICY_VIOLATION, reason: 'credential expired' })
    // Not before exp (whole seconds).
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000)
    expect(await upstreamCloses(open.id)).toEqual([{ code: POLICY_VIOLATION, reason: 'credential expired' }])
  })
})

describe('a WebSocket whose credential is revoked', () => {
  it('is closed with 1008 within the re-check bound after /auth/logout-all', async () => {
    const tokens = await signIn('ws-logout-all')
    const open = await openSocket('/api/ws', bearer(tokens.access_token), FAST_RECHECK)
    await expectEcho(open, 'ws-logout-all')
    expect(
      (await gatewayFetch('/auth/logout-all', { method: 'POST', headers: bearer(tokens.access_token) }))
        .status,
    ).toBe(204)
    expect(await open.closedWithin(DEFAULT_ROUTE_BOUND_MS)).toEqual({
      code: POLICY_VIOLATION,
      reason: 'credential revoked',
    })
    expect(await upstreamCloses(open.id)).toEqual([{ code: POLICY_VIOLATION, reason: 'credential revoked' }])
  })

  it('is closed with 1008 within the re-check bound after /auth/revoke of its access token', async () => {
    const tokens = await signIn('ws-revoke')
    const open = await openSocket('/api/ws', bearer(tokens.access_token), FAST_RECHECK)
    await expectEcho(open, 'ws-revoke')
    const revoke = await gatewayFetch('/auth/revoke', {
      method: 'POST',
      headers: { ...bearer(tokens.access_token), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    })
    expect(revoke.status).toBe(200)
    expect(await open.closedWithin(DEFAULT_ROUTE_BOUND_MS)).toEqual({
      code: POLICY_VIOLATION,
      reason: 'credential revoked',
    })
  })

  it('on a strict route is closed within one re-check interval (D1, no KV bound)', async () => {
    const strict = withSettings({ websocket_recheck_seconds: RECHECK_SECONDS }, [
      { path: '/api', upstream: 'UPSTREAM_URL', revocation: 'strict' },
    ])
    const tokens = await signIn('ws-strict')
    const open = await openSocket('/api/ws', bearer(tokens.access_token), strict)
    await expectEcho(open, 'ws-strict')
    expect(
      (await gatewayFetch('/auth/logout-all', { method: 'POST', headers: bearer(tokens.access_token) }))
        .status,
    ).toBe(204)
    expect(await open.closedWithin(STRICT_ROUTE_BOUND_MS)).toEqual({
      code: POLICY_VIOLATION,
      reason: 'credential revoked',
    })
  })

  it('opened with an API key, is closed with 1008 once the key is revoked', async () => {
    const tokens = await signIn('ws-api-key')
    const key = await createApiKey(tokens.access_token, { name: 'socket' })
    const open = await openSocket('/api/ws', { 'x-api-key': key.key }, FAST_RECHECK)
    await expectEcho(open, 'ws-api-key')
    const revoked = await gatewayFetch(`/auth/api-keys/${key.id}`, {
      method: 'DELETE',
      headers: bearer(tokens.access_token),
    })
    expect(revoked.status).toBe(204)
    expect(await open.closedWithin(DEFAULT_ROUTE_BOUND_MS)).toEqual({
      code: POLICY_VIOLATION,
      reason: 'credential revoked',
    })
  })

  it('opened with Basic, is closed with 1008 once the user is disabled', async () => {
    const basic = withSettings({ websocket_recheck_seconds: RECHECK_SECONDS }, [
      { path: '/api', upstream: 'UPSTREAM_URL', credentials: ['basic'] },
    ])
    const user = await createUser('ws-basic')
    const open = await openSocket(
      '/api/ws',
      { authorization: `Basic ${btoa(`ws-basic:${PASSWORD}`)}` },
      basic,
    )
    await expectEcho(open, 'ws-basic')
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    expect(await open.closedWithin(STRICT_ROUTE_BOUND_MS)).toEqual({
      code: POLICY_VIOLATION,
      reason: 'credential revoked',
    })
  })

  it('stays open across re-checks while its credential stays valid', async () => {
    const tokens = await signIn('ws-still-valid')
    const open = await openSocket('/api/ws', bearer(tokens.access_token), FAST_RECHECK)
    expect(await open.closedWithin(RECHECK_SECONDS * 2500)).toEqual({ code: 0, reason: 'still open' })
    await expectEcho(open, 'ws-still-valid')
    open.socket.close(1000, 'done')
  })
})
