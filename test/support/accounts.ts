import { env } from 'cloudflare:test'
import { sha256Hex } from '../../src/crypto/bytes'
import { type GrantType, insertClient } from '../../src/oauth/client-store'
import { hashPassword } from '../../src/users/password-hash'
import { insertUser, type User } from '../../src/users/store'
import { gatewayFetch, testId, upstreamReceived } from './gateway'

export const PASSWORD = 'correct horse battery staple'

/** A user created straight in D1 with a real hash (what `npm run admin -- create-user` does). */
export async function createUser(
  username: string,
  roles: string[] = ['user'],
  password = PASSWORD,
): Promise<User> {
  const user = await insertUser(env.DB, {
    username,
    passwordHash: await hashPassword(password, { pepper: env.PASSWORD_PEPPER || undefined }),
    roles,
  })
  if (!user) throw new Error(`user ${username} exists`)
  return user
}

/**
 * A client straight in D1. A client allowed the password grant is first-party unless `firstParty`
 * says otherwise: only the operator's own apps may use that grant (src/oauth/grants.ts).
 */
export async function createClient(
  clientId: string,
  options: {
    secret?: string
    grantTypes?: GrantType[]
    scopes?: string[]
    roles?: string[]
    firstParty?: boolean
    allowedRoles?: string[]
  } = {},
): Promise<void> {
  const grantTypes = options.grantTypes ?? ['client_credentials']
  await insertClient(env.DB, {
    clientId,
    secretHash: options.secret ? await sha256Hex(options.secret) : undefined,
    name: clientId,
    grantTypes,
    scopes: options.scopes ?? [],
    roles: options.roles ?? [],
    firstParty: options.firstParty ?? grantTypes.includes('password'),
    allowedRoles: options.allowedRoles ?? [],
  })
}

export function tokenRequest(
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return gatewayFetch('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

export interface Tokens {
  access_token: string
  refresh_token?: string
  expires_in: number
  scope: string
  token_type: string
}

/** Password-grant login; throws unless it succeeds. */
export async function login(
  username: string,
  password = PASSWORD,
  extra: Record<string, string> = {},
): Promise<Tokens> {
  const response = await tokenRequest({ grant_type: 'password', username, password, ...extra })
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`)
  return (await response.json()) as Tokens
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

export function basicAuth(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}` }
}

/** A proxied request with the token: its status and how many requests the upstream received. */
export async function callApi(
  token: string,
  through: (path: string, init: RequestInit) => Promise<Response> = gatewayFetch,
): Promise<{ status: number; forwarded: number }> {
  const id = testId()
  const response = await through('/api/things', { headers: { ...bearer(token), 'x-test-id': id } })
  await response.arrayBuffer() // read to the end: an abandoned body holds its upstream connection
  return { status: response.status, forwarded: (await upstreamReceived(id)).length }
}
