/**
 * A scriptable OpenID Connect provider on loopback for the workerd tests (started in
 * global-setup-providers.ts; workerd can reach only servers started there). It is a real provider
 * over HTTP (discovery, JWKS, authorization endpoint, token endpoint with client authentication and
 * a PKCE S256 check), and each test scripts how it misbehaves: an ID token signed by another key,
 * for another audience, from another issuer, expired, with another nonce; an `error` answer; an
 * `iss` of another issuer in the authorization response; a token endpoint, discovery or JWKS down.
 * Every tenant /t/<id> is its own issuer; PUT /t/<id>/scenario sets (or replaces) its script.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'

export interface OidcScenario {
  clientId: string
  clientSecret: string
  sub: string
  email?: string
  emailVerified?: boolean
  preferredUsername?: string
  claims?: Record<string, unknown>
  /** The authorization endpoint answers with this `error` instead of a code. */
  authorizeError?: string
  /** `iss` in the authorization response: another value (mix-up), or null to leave it out. */
  issParam?: string | null
  idToken?: { iss?: string; aud?: string; expOffset?: number; nonce?: string; otherKey?: boolean }
  tokenStatus?: number
  discoveryDown?: boolean
  jwksDown?: boolean
}

interface Tenant {
  scenario: OidcScenario
  codes: Map<string, { nonce: string; challenge: string; redirectUri: string }>
  hits: Record<string, number>
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  response.end(JSON.stringify(body))
}

export async function startOidcTestProvider(): Promise<{ origin: string; close(): Promise<void> }> {
  const key = await generateKeyPair('ES256', { extractable: true })
  const other = await generateKeyPair('ES256', { extractable: true })
  const publicJwk: JWK = { ...(await exportJWK(key.publicKey)), kid: 'test-1', alg: 'ES256', use: 'sig' }
  const tenants = new Map<string, Tenant>()
  let origin = ''

  async function idToken(tenant: Tenant, issuer: string, nonce: string): Promise<string> {
    const { scenario } = tenant
    const script = scenario.idToken ?? {}
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({
      ...(scenario.email ? { email: scenario.email, email_verified: scenario.emailVerified ?? false } : {}),
      ...(scenario.preferredUsername ? { preferred_username: scenario.preferredUsername } : {}),
      nonce: script.nonce ?? nonce,
      ...scenario.claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-1', typ: 'JWT' })
      .setIssuer(script.iss ?? issuer)
      .setAudience(script.aud ?? scenario.clientId)
      .setSubject(scenario.sub)
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (script.expOffset ?? 300))
      .sign(script.otherKey ? other.privateKey : key.privateKey)
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', origin)
    const match = /^\/t\/([A-Za-z0-9_-]+)(\/.*)$/.exec(url.pathname)
    if (!match) return json(response, 404, {})
    const [, id = '', path = ''] = match
    const issuer = `${origin}/t/${id}`
    if (path === '/scenario' && request.method === 'PUT') {
      const scenario = JSON.parse(await readBody(request)) as OidcScenario
      const existing = tenants.get(id)
      tenants.set(id, { scenario, codes: existing?.codes ?? new Map(), hits: existing?.hits ?? {} })
      return json(response, 204, {})
    }
    const tenant = tenants.get(id)
    if (!tenant) return json(response, 404, {})
    tenant.hits[path] = (tenant.hits[path] ?? 0) + 1
    const { scenario } = tenant
    if (path === '/hits') return json(response, 200, tenant.hits)
    if (path === '/.well-known/openid-configuration') {
      if (scenario.discoveryDown) return json(response, 503, {})
      return json(response, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      })
    }
    if (path === '/jwks') {
      if (scenario.jwksDown) return json(response, 503, {})
      return json(response, 200, { keys: [publicJwk] })
    }
    if (path === '/authorize') {
      const params = url.searchParams
      const back = new URL(params.get('redirect_uri') ?? '')
      back.searchParams.set('state', params.get('state') ?? '')
      const iss = scenario.issParam === undefined ? issuer : scenario.issParam
      if (iss !== null) back.searchParams.set('iss', iss)
      if (scenario.authorizeError) back.searchParams.set('error', scenario.authorizeError)
      else {
        const code = randomBytes(16).toString('hex')
        tenant.codes.set(code, {
          nonce: params.get('nonce') ?? '',
          challenge: params.get('code_challenge') ?? '',
          redirectUri: params.get('redirect_uri') ?? '',
        })
        back.searchParams.set('code', code)
      }
      response.writeHead(302, { location: back.href }).end()
      return
    }
    if (path === '/token' && request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request))
      if (scenario.tokenStatus) return json(response, scenario.tokenStatus, { error: 'server_error' })
      // RFC 6749 §2.3.1: both halves are form-urlencoded (oauth4webapi encodes even "-").
      const basic = Buffer.from(
        (request.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      ).toString()
      const [id = '', secret = ''] = basic
        .split(':')
        .map((part: string) => decodeURIComponent(part.replace(/\+/g, ' ')))
      if (id !== scenario.clientId || secret !== scenario.clientSecret)
        return json(response, 401, { error: 'invalid_client' })
      const code = form.get('code') ?? ''
      const grant = tenant.codes.get(code)
      tenant.codes.delete(code)
      const verifier = form.get('code_verifier') ?? ''
      const challenge = createHash('sha256').update(verifier).digest('base64url')
      if (!grant || grant.redirectUri !== form.get('redirect_uri') || grant.challenge !== challenge)
        return json(response, 400, { error: 'invalid_grant' })
      return json(response, 200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        id_token: await idToken(tenant, issuer, grant.nonce),
      })
    }
    json(response, 404, {})
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => json(response, 500, {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
