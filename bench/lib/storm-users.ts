/**
 * The storm's people: legitimate users (registered, each signed in once, so they hold the
 * known-device cookie and a refresh token) and the flood's raw material (client addresses from the
 * benchmarking and documentation ranges, names that mostly do not exist).
 */
import { randomBytes, randomInt } from 'node:crypto'
import { setCookieOf } from './accounts'

export interface LegitUser {
  username: string
  password: string
  /** Its own client address (`cf-connecting-ip`). */
  address: string
  /** `name=value` of the known-device cookie from its last password sign-in, if the gateway set one. */
  deviceCookie?: string
  /** The newest refresh token; undefined after a refresh whose outcome is unknown (timeout, 5xx). */
  refreshToken?: string
  busy: boolean
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

/**
 * Client addresses: IPv4 from 198.18.0.0/15 (RFC 2544's benchmarking range), IPv6 from
 * 2001:db8::/32 (documentation), each IPv6 one in a /64 of its own (the gateway counts IPv6 per
 * /64), and one in ten IPv4 ones written IPv4-mapped (`::ffff:a.b.c.d`, which it counts as IPv4).
 */
export function floodAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    if (i % 2 === 1) return `2001:db8:${hex(2)}:${hex(2)}::${hex(2)}`
    const v4 = `198.18.${randomInt(256)}.${randomInt(1, 255)}`
    return i % 20 === 0 ? `::ffff:${v4}` : v4
  })
}

/** Legitimate users' addresses: 198.19.0.0/16 and 2001:db8:ffff::/48, one each, apart from the flood's. */
function legitAddress(i: number): string {
  return i % 2 === 0 ? `198.19.${i >> 8}.${(i & 255) + 1}` : `2001:db8:ffff:${i.toString(16)}::1`
}

export function unknownName(): string {
  return `bot-${hex(6)}`
}

export function wrongPassword(): string {
  return `guess-${hex(6)}`
}

export interface TokenAnswer {
  status: number
  ms: number
  refreshToken?: string
  deviceCookie?: string
}

/** One POST /auth/token as the given client address; never throws (a timeout is status 0). */
export async function tokenRequest(
  origin: string,
  form: Record<string, string>,
  address: string,
  timeoutMs: number,
  cookie?: string,
): Promise<TokenAnswer> {
  const started = performance.now()
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'cf-connecting-ip': address,
  }
  if (cookie) headers.cookie = cookie
  try {
    const response = await fetch(`${origin}/auth/token`, {
      method: 'POST',
      headers,
      body: new URLSearchParams(form),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await response.text()
    const ms = performance.now() - started
    if (response.status !== 200) return { status: response.status, ms }
    const body = JSON.parse(text) as { refresh_token?: string }
    return {
      status: 200,
      ms,
      refreshToken: body.refresh_token,
      deviceCookie: setCookieOf(response, 'gw_device'),
    }
  } catch {
    return { status: 0, ms: performance.now() - started }
  }
}

async function register(origin: string, username: string, password: string, address: string): Promise<void> {
  const response = await fetch(`${origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': address },
    body: JSON.stringify({ username, password }),
  })
  if (response.status !== 201)
    throw new Error(`storm: register ${username}: ${response.status} ${await response.text()}`)
}

/** Runs `task` over `items`, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T)
  }
  await Promise.all(Array.from({ length: width }, worker))
}

/**
 * Registers `legit` users and signs each in once by the password grant (its device cookie and a
 * refresh token), and registers `victims` more whose names the flood tries with wrong passwords
 * (the legitimate users' names too: a targeted lockout attempt). Through `origin`, a gateway with
 * the layer off, so that seeding spends none of the storm gateway's counters.
 */
export async function seedStormUsers(
  origin: string,
  legit: number,
  victims: number,
): Promise<{ users: LegitUser[]; existingNames: string[] }> {
  const users: LegitUser[] = Array.from({ length: legit }, (_, i) => ({
    username: `storm-user-${i}`,
    password: `storm-${crypto.randomUUID()}`,
    address: legitAddress(i),
    busy: false,
  }))
  const victimNames = Array.from({ length: victims }, (_, i) => `storm-victim-${i}`)
  await inParallel(users, 4, async (user) => {
    await register(origin, user.username, user.password, user.address)
    const answer = await tokenRequest(
      origin,
      { grant_type: 'password', username: user.username, password: user.password },
      user.address,
      30_000,
    )
    if (answer.status !== 200) throw new Error(`storm: first sign-in of ${user.username}: ${answer.status}`)
    user.refreshToken = answer.refreshToken
    user.deviceCookie = answer.deviceCookie
  })
  await inParallel(victimNames, 4, (name) =>
    register(origin, name, `storm-${crypto.randomUUID()}`, `198.19.200.${victimNames.indexOf(name) + 1}`),
  )
  return { users, existingNames: [...users.map((user) => user.username), ...victimNames] }
}
