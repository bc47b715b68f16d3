// Time budget: ~5 s on a 2-core machine (the run's shared gateway, support/shared-gateway.ts, ~15 s
// more if it is the first file to ask; the CLI set-up in-process). Measured 20 s at load 2 with a
// gateway of its own and three CLI processes.
import { join } from 'node:path'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EchoServer } from '../../scripts/echo-upstream'
import { adminInProcess, closeLocalStates } from './admin-support'
import type { RunningGateway } from './support/gateway'
import { sharedGateway } from './support/shared-gateway'
import { upstreamReceived } from './support/upstream'

// A stock OAuth 2 client library (panva's oauth4webapi) and a stock JWKS verifier (jose's
// createRemoteJWKSet) against the real gateway started with `npm start`.
let echo: Pick<EchoServer, 'origin'>
let gateway: RunningGateway
let as: oauth.AuthorizationServer
let clientSecret: string

const PASSWORD = 'a long and unusual passphrase'
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http only

/**
 * The operator CLI on the gateway's local state, in this process: the set-up is about D1 rows, not
 * the CLI's process (admin-cli.test.ts has that).
 */
async function admin(args: string[], stdin?: string): Promise<string> {
  const run = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), args, { stdin })
  if (run.code !== 0) throw new Error(`admin ${args[0]}: ${run.stderr}`)
  return run.stdout
}

beforeAll(async () => {
  gateway = await sharedGateway()
  // The demo upstream `npm start` runs: the echo server, whose record is keyed by x-test-id.
  echo = { origin: gateway.upstreamOrigin }
  await admin(['create-user', 'oauth-user', '--password-stdin', '--role', 'editor'], PASSWORD)
  await admin([
    'create-client',
    'first-party',
    '--public',
    // The password grant is for the operator's own apps only (issue 19).
    '--first-party',
    '--grant',
    'password',
    '--grant',
    'refresh_token',
    '--scope',
    'read',
    '--scope',
    'write',
  ])
  const created = await admin(['create-client', 'reporting', '--scope', 'read', '--role', 'user'])
  clientSecret = /client_secret: (\S+)/.exec(created)?.[1] as string
  const issuer = new URL(gateway.origin)
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  )
}, 300_000)

afterAll(async () => {
  await closeLocalStates()
})

describe('discovery', () => {
  test('the RFC 8414 document names our endpoints under ISSUER and is also served as openid-configuration', async () => {
    expect(as.issuer).toBe(gateway.origin)
    expect(as.token_endpoint).toBe(`${gateway.origin}/auth/token`)
    expect(as.jwks_uri).toBe(`${gateway.origin}/.well-known/jwks.json`)
    expect(as.grant_types_supported).toEqual(
      expect.arrayContaining(['password', 'refresh_token', 'client_credentials']),
    )
    const oidc = await (await fetch(`${gateway.origin}/.well-known/openid-configuration`)).json()
    expect(oidc).toMatchObject({ issuer: gateway.origin, token_endpoint: as.token_endpoint })
  })
})

describe('grants through oauth4webapi', () => {
  const firstParty: oauth.Client = { client_id: 'first-party' }

  test('password grant, then refresh: the refreshed token works on /api and the old refresh token is spent', async () => {
    const response = await oauth.genericTokenEndpointRequest(
      as,
      firstParty,
      oauth.None(),
      'password',
      { username: 'oauth-user', password: PASSWORD, scope: 'read write' },
      insecure,
    )
    const tokens = await oauth.processGenericTokenEndpointResponse(as, firstParty, response)
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.scope).toBe('read write')
    expect(tokens.refresh_token).toMatch(/^rt_/)

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      firstParty,
      await oauth.refreshTokenGrantRequest(
        as,
        firstParty,
        oauth.None(),
        tokens.refresh_token as string,
        insecure,
      ),
    )
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
    const id = crypto.randomUUID()
    const api = await fetch(`${gateway.origin}/api/things`, {
      headers: { authorization: `Bearer ${refreshed.access_token}`, 'x-test-id': id },
    })
    expect(api.status).toBe(200)
    const [received] = await upstreamReceived(echo, id)
    expect(received?.headers['x-auth-user']).toBe('oauth-user')
  })

  test('client_credentials with HTTP Basic client authentication', async () => {
    const client: oauth.Client = { client_id: 'reporting' }
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(clientSecret),
      { scope: 'read' },
      insecure,
    )
    const tokens = await oauth.processClientCredentialsResponse(as, client, response)
    expect(tokens.scope).toBe('read')
    expect(tokens.refresh_token).toBeUndefined()
  })

  test('a wrong client secret is a 401 Basic challenge the library surfaces, with an invalid_client body', async () => {
    const client: oauth.Client = { client_id: 'reporting' }
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic('wrong'),
      {},
      insecure,
    )
    const error = await oauth
      .processClientCredentialsResponse(as, client, response)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    const challenge = error as oauth.WWWAuthenticateChallengeError
    expect(challenge.status).toBe(401)
    expect(challenge.cause[0]?.scheme).toBe('basic')
    expect(await challenge.response.json()).toMatchObject({ error: 'invalid_client' })
  })
})

describe('a stock JWKS verifier', () => {
  test('verifies issued access tokens and the X-Auth-Assertion the upstream received', async () => {
    const client: oauth.Client = { client_id: 'reporting' }
    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(clientSecret),
        {},
        insecure,
      ),
    )
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: gateway.origin,
      audience: 'edge-auth-gateway',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    })
    expect(protectedHeader.kid).toBeDefined()
    expect(payload).toMatchObject({
      sub: 'reporting',
      client_id: 'reporting',
      scope: 'read',
      roles: ['user'],
    })

    const id = crypto.randomUUID()
    await fetch(`${gateway.origin}/api/things`, {
      headers: { authorization: `Bearer ${tokens.access_token}`, 'x-test-id': id },
    })
    const [received] = await upstreamReceived(echo, id)
    const assertion = received?.headers['x-auth-assertion'] as string
    expect(decodeProtectedHeader(assertion).typ).toBe('gateway-assertion+jwt')
    const verified = await jwtVerify(assertion, jwks, {
      issuer: gateway.origin,
      audience: echo.origin,
      algorithms: ['ES256'],
    })
    expect(verified.payload).toMatchObject({
      sub: 'reporting',
      auth_method: 'jwt',
      scope: 'read',
      roles: ['user'],
    })
    expect((verified.payload.exp ?? 0) - (verified.payload.iat ?? 0)).toBeLessThanOrEqual(60)
  })
})

describe('dynamic client registration (RFC 7591) through oauth4webapi', () => {
  test('registers a public client at the advertised registration_endpoint; the client cannot claim first_party', async () => {
    expect(as.registration_endpoint).toBe(`${gateway.origin}/auth/clients`)
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { redirect_uris: ['http://127.0.0.1/callback'], client_name: 'oauth4webapi' },
        insecure,
      ),
    )
    expect(registered).toMatchObject({ token_endpoint_auth_method: 'none', client_name: 'oauth4webapi' })
    expect(registered.client_secret).toBeUndefined()
    // The gateway knows the new public client: it is refused the password grant, not unknown.
    const client: oauth.Client = { client_id: registered.client_id }
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      'password',
      { username: 'oauth-user', password: PASSWORD },
      insecure,
    )
    await expect(oauth.processGenericTokenEndpointResponse(as, client, response)).rejects.toMatchObject({
      error: 'unauthorized_client',
    })

    const claimed = await oauth.dynamicClientRegistrationRequest(
      as,
      { redirect_uris: ['http://127.0.0.1/callback'], first_party: true },
      insecure,
    )
    await expect(oauth.processDynamicClientRegistrationResponse(claimed)).rejects.toMatchObject({
      error: 'invalid_client_metadata',
    })
  })
})
