/**
 * `delegated = "deny"` on a route: a token an app obtained through the authorization code flow
 * (acting for the user) is refused there with 403 `insufficient_scope`, audited, and never
 * forwarded; the same user's own credentials (password-grant token, API key, browser session) pass.
 */
import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, createClient, createUser, login, tokenRequest } from '../../test/support/accounts'
import { waitForAudit } from '../../test/support/admin'
import { createApiKey } from '../../test/support/api-keys'
import {
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
} from '../../test/support/authorization-code'
import { fetchWithEnv, testId, upstreamReceived } from '../../test/support/gateway'
import { browserLogin } from '../../test/support/sessions'
import type { Env } from '../env'
import { recordGrant } from '../oauth/consent'

const CREDENTIALS = ['jwt', 'api_key', 'session']
const ROUTES = [
  { path: '/vault', upstream: 'UPSTREAM_URL', roles: ['user'], credentials: CREDENTIALS, delegated: 'deny' },
  { path: '/photos', upstream: 'UPSTREAM_URL', roles: ['user'], credentials: CREDENTIALS },
  // Anyone may read; writing loads a credential, and an app's is refused.
  {
    path: '/board',
    upstream: 'UPSTREAM_URL',
    access: 'public',
    method_rules: { POST: { access: 'authenticated' } },
    delegated: 'deny',
  },
]
const overrides = { ROUTES } as Partial<Env>

const SERVICE_SECRET = 'gws_delegated-routes-service-secret'

let userId: string
let delegatedToken: string
let firstPartyAppToken: string
let ownToken: string
let apiKey: string
let serviceToken: string

async function codeFlowToken(clientId: string): Promise<string> {
  const response = await exchangeCode(clientId, await issueCode(clientId, userId, { scopes: ['read'] }))
  expect(response.status).toBe(200)
  return ((await response.json()) as CodeTokens).access_token
}

beforeAll(async () => {
  userId = (await createUser('dr-owner', ['user'])).id
  // The app may act with the user's role and the user approved it on the consent page: the
  // delegated token holds everything /vault asks for.
  await createCodeClient('dr-photo-app', { allowedRoles: ['user'] })
  await recordGrant(env.DB, { userId, clientId: 'dr-photo-app', scopes: ['read'], roles: ['user'] })
  await createCodeClient('dr-own-app', { firstParty: true })
  delegatedToken = await codeFlowToken('dr-photo-app')
  firstPartyAppToken = await codeFlowToken('dr-own-app')
  ownToken = (await login('dr-owner')).access_token
  apiKey = (await createApiKey(ownToken, { name: 'dr key' })).key
  await createClient('dr-service', { secret: SERVICE_SECRET, roles: ['user'] })
  const service = await tokenRequest({
    grant_type: 'client_credentials',
    client_id: 'dr-service',
    client_secret: SERVICE_SECRET,
  })
  expect(service.status).toBe(200)
  serviceToken = ((await service.json()) as { access_token: string }).access_token
})

async function send(path: string, headers: Record<string, string>, method = 'GET') {
  const id = testId()
  const response = await fetchWithEnv(overrides, path, {
    method,
    headers: { ...headers, 'x-test-id': id },
    body: method === 'GET' ? undefined : 'payload',
  })
  const text = await response.text()
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : {}) as { error?: string; error_description?: string },
    challenge: response.headers.get('www-authenticate'),
    forwarded: await upstreamReceived(id),
  }
}

describe('a delegated token on a delegated = "deny" route', () => {
  it('is refused with 403 insufficient_scope, though it holds the role, and nothing reaches the upstream', async () => {
    for (const method of ['GET', 'POST']) {
      const outcome = await send('/vault/statements', bearer(delegatedToken), method)
      expect(outcome.status, method).toBe(403)
      expect(outcome.body.error).toBe('insufficient_scope')
      expect(outcome.body.error_description).toContain('A token issued to an app may not call this route')
      expect(outcome.challenge).toContain('error="insufficient_scope"')
      expect(outcome.forwarded).toEqual([])
    }
  })

  it('is audited as delegated_token_refused, naming the app, the path and the route', async () => {
    const path = `/vault/audited-${testId()}`
    expect((await send(path, bearer(delegatedToken))).status).toBe(403)
    const event = await waitForAudit(
      (candidate) => candidate.type === 'delegated_token_refused' && candidate.details.path === path,
    )
    expect(event).toMatchObject({
      outcome: 'failure',
      actor_id: userId,
      client_id: 'dr-photo-app',
      details: { method: 'GET', path, route: '/vault', auth_method: 'jwt' },
    })
    expect(JSON.stringify(event)).not.toContain(delegatedToken)
  })

  it("also refuses a service client's own token (client_credentials) unless the client is first_party", async () => {
    const outcome = await send('/vault/x', bearer(serviceToken))
    expect(outcome.status).toBe(403)
    expect(outcome.body.error).toBe('insufficient_scope')
    expect(outcome.forwarded).toEqual([])
  })
})

describe("the same user's own credentials on that route", () => {
  it.each<[string, () => Record<string, string>]>([
    ['a password-grant token', () => bearer(ownToken)],
    ['a token of a client the operator marked first_party', () => bearer(firstPartyAppToken)],
    ['an API key', () => ({ 'x-api-key': apiKey })],
  ])('%s passes and is forwarded', async (_name, headers) => {
    const outcome = await send('/vault/statements', headers())
    expect(outcome.status).toBe(200)
    expect(outcome.forwarded).toHaveLength(1)
    expect(outcome.forwarded[0]?.headers['x-auth-user-id']).toBe(userId)
  })

  it('a browser navigation with the session (first-party) passes', async () => {
    const session = await browserLogin('dr-owner', {
      through: (path, init) => fetchWithEnv(overrides, path, init),
    })
    const outcome = await send('/vault/statements', {
      cookie: session.cookie,
      accept: 'text/html',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-site': 'none',
    })
    expect(outcome.status).toBe(200)
    expect(outcome.forwarded[0]?.headers['x-auth-method']).toBe('session')
  })
})

describe('a route without delegated (the default, "allow")', () => {
  it('forwards the delegated token under its other rules', async () => {
    const outcome = await send('/photos/1', bearer(delegatedToken))
    expect(outcome.status).toBe(200)
    expect(outcome.forwarded).toHaveLength(1)
    // The role /vault asks for too: there, only the delegation refused it.
    expect(outcome.forwarded[0]?.headers['x-auth-roles']).toBe('user')
  })
})

describe('a public route with one authenticated method rule and delegated = "deny"', () => {
  it('is valid config: GET stays open to anyone, while a POST with a delegated token is refused', async () => {
    const read = await send('/board/1', bearer(delegatedToken))
    expect(read.status).toBe(200)
    expect(read.forwarded[0]?.headers['x-auth-method']).toBe('none')
    const write = await send('/board', bearer(delegatedToken), 'POST')
    expect(write.status).toBe(403)
    expect(write.body.error).toBe('insufficient_scope')
    expect(write.forwarded).toEqual([])
    expect((await send('/board', bearer(ownToken), 'POST')).status).toBe(200)
  })
})

describe('an invalid delegated value fails closed at runtime', () => {
  it('answers 503 gateway_misconfigured and forwards nothing, even to the first-party token', async () => {
    const id = testId()
    const response = await fetchWithEnv(
      { ROUTES: [{ ...ROUTES[0], delegated: 'block' }] } as Partial<Env>,
      '/vault/statements',
      { headers: { ...bearer(ownToken), 'x-test-id': id } },
    )
    expect(response.status).toBe(503)
    expect(((await response.json()) as { error: string }).error).toBe('gateway_misconfigured')
    expect(await upstreamReceived(id)).toEqual([])
  })
})
