import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import Provider, { type Configuration } from 'oidc-provider'
import { experimental_readRawConfig } from 'wrangler'
import { freePort } from '../../scripts/lib/ports'
import type { RunningGateway } from './support/gateway'

/** The resource server our gateway fronts, as the IdP knows it (RFC 8707 resource indicator). */
export const API_AUDIENCE = 'https://api.example.test'
/** Another resource server of the same IdP: its tokens must not work at our gateway. */
export const OTHER_AUDIENCE = 'https://other-api.example.test'
export const CLIENT_ID = 'svc-reporting'
export const CLIENT_SECRET = 'svc-reporting-secret-0123456789abcdef'
export const WEB_CLIENT_ID = 'web-app'
const WEB_REDIRECT = 'https://app.example.test/callback'

export interface RunningIdp {
  issuer: string
  /** The signing key's public half, as the IdP's JWKS publishes it. */
  publicJwk: JWK
  /** Requests the IdP received per path (`/jwks`, `/.well-known/openid-configuration`, ...). */
  hits(path: string): number
  /** When each request for `path` arrived (Date.now()), oldest first. */
  hitTimes(path: string): number[]
  /** A client_credentials access token (a JWT, `typ: at+jwt`) for `resource`. */
  clientCredentialsToken(resource?: string, scope?: string): Promise<string>
  /** An ID token from an authorization-code login of `account` (driven through the dev login form). */
  idToken(account: string): Promise<string>
  stop(): Promise<void>
}

/**
 * panva's oidc-provider on loopback: a real external IdP. It issues JWT access tokens for
 * client_credentials through resource indicators, adds `groups` to them (what the gateway maps to
 * roles), and counts the requests it serves so tests can see the gateway's JWKS fetches.
 */
export async function startIdp(groups: string[] = ['gw-admins', 'staff']): Promise<RunningIdp> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = `idp-${port}`
  const signingJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' }
  const { d: _private, ...publicJwk } = signingJwk

  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      },
      {
        client_id: WEB_CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['authorization_code'],
        redirect_uris: [WEB_REDIRECT],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingJwk as never] },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API_AUDIENCE && resource !== OTHER_AUDIENCE) throw new Error('unknown resource')
          return {
            scope: 'read write',
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 300,
            jwt: { sign: { alg: 'ES256' } },
          }
        },
      },
    },
    // A first-party client: no consent screen, so a login is all an ID token takes.
    loadExistingGrant: async (ctx) => {
      const accountId = ctx.oidc.session?.accountId
      const clientId = ctx.oidc.client?.clientId
      if (!accountId || !clientId) return undefined
      const grant = new ctx.oidc.provider.Grant({ accountId, clientId })
      grant.addOIDCScope('openid')
      await grant.save()
      return grant
    },
    extraTokenClaims: () => ({ groups }),
    ttl: {
      ClientCredentials: 300,
      AccessToken: 300,
      IdToken: 300,
      AuthorizationCode: 60,
      Grant: 300,
      Session: 300,
      Interaction: 300,
    },
  }
  const provider = new Provider(issuer, configuration)
  const arrivals = new Map<string, number[]>()
  const handler = provider.callback()
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/'
    arrivals.set(path, [...(arrivals.get(path) ?? []), Date.now()])
    handler(request, response)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))

  return {
    issuer,
    publicJwk,
    hits: (path) => arrivals.get(path)?.length ?? 0,
    hitTimes: (path) => [...(arrivals.get(path) ?? [])],
    clientCredentialsToken: (resource = API_AUDIENCE, scope = 'read write') =>
      clientCredentials(issuer, resource, scope),
    idToken: (account) => loginForIdToken(issuer, account),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

async function clientCredentials(issuer: string, resource: string, scope: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(CLIENT_ID, CLIENT_SECRET),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  })
  const body = (await response.json()) as { access_token?: string }
  if (response.status !== 200 || !body.access_token)
    throw new Error(`client_credentials failed: ${response.status} ${JSON.stringify(body)}`)
  return body.access_token
}

/** Follows one redirect by hand, keeping cookies (the login flow lives in them). */
async function step(url: string, jar: Map<string, string>, init: RequestInit = {}): Promise<string> {
  const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie } })
  for (const line of response.headers.getSetCookie()) {
    const [pair = ''] = line.split(';')
    const at = pair.indexOf('=')
    jar.set(pair.slice(0, at), pair.slice(at + 1))
  }
  await response.body?.cancel()
  const location = response.headers.get('location')
  if (!location) throw new Error(`expected a redirect from ${url}, got ${response.status}`)
  return new URL(location, url).href
}

/**
 * An authorization-code login through the provider's development login form (any account name
 * logs in), then the code exchange: the ID token is what the token endpoint returns.
 */
async function loginForIdToken(issuer: string, account: string): Promise<string> {
  const jar = new Map<string, string>()
  const authorize = new URL(`${issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: WEB_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: WEB_REDIRECT,
    state: 'e2e-state',
    nonce: 'e2e-nonce',
  }).toString()
  const interaction = await step(authorize.href, jar)
  const resume = await step(interaction, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ prompt: 'login', login: account, password: 'any' }).toString(),
  })
  const callback = new URL(await step(resume, jar))
  const code = callback.searchParams.get('code')
  if (!code) throw new Error(`no code in ${callback.href}`)
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(WEB_CLIENT_ID, CLIENT_SECRET),
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB_REDIRECT }),
  })
  const body = (await response.json()) as { id_token?: string }
  if (!body.id_token) throw new Error(`code exchange failed: ${response.status} ${JSON.stringify(body)}`)
  return body.id_token
}

function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    return `{ ${entries.map(([key, v]) => `${JSON.stringify(key)} = ${tomlValue(v)}`).join(', ')} }`
  }
  throw new Error(`cannot write ${String(value)} as TOML`)
}

/** A whole wrangler config as TOML: one top-level key per line, every value inline. */
export function toToml(config: Record<string, unknown>): string {
  return `${Object.entries(config)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${JSON.stringify(key)} = ${tomlValue(value)}`)
    .join('\n')}\n`
}

export interface TrustOptions {
  /** Entries for SETTINGS.external_issuers. */
  issuers: Record<string, unknown>[]
  /** Routes added in front of the shipped ones. */
  routes: Record<string, unknown>[]
}

/**
 * Gives a running gateway a route table that trusts external issuers. The e2e harness starts the
 * gateway from the project's wrangler.toml and takes no config of its own; `wrangler dev` reloads
 * when its config file changes, so this rewrites the copy's wrangler.toml (the shipped config plus
 * our issuers and routes, through wrangler's own reader) and waits until the new routes answer.
 * `--var` cannot carry these: its values reach the Worker as strings, and SETTINGS/ROUTES are objects.
 */
/**
 * Writes the trusted issuers and their routes into the gateway copy's wrangler.toml before it
 * starts (the `prepare` hook of startGateway), so no reload is involved.
 */
export function trustExternalIssuers(options: TrustOptions): (dir: string) => Promise<void> {
  return async (dir) => {
    const path = join(dir, 'wrangler.toml')
    const { rawConfig } = experimental_readRawConfig({ config: path })
    const raw = rawConfig as Record<string, unknown> & { vars?: Record<string, unknown> }
    const vars = raw.vars ?? {}
    const settings = { ...(vars.SETTINGS as Record<string, unknown>), external_issuers: options.issuers }
    const routes = [...options.routes, ...((vars.ROUTES as unknown[]) ?? [])]
    await writeFile(path, toToml({ ...raw, vars: { ...vars, SETTINGS: settings, ROUTES: routes } }))
  }
}

/** The new routes answer 401 (not 404) and `npm start`'s ISSUER override is in force. */
export async function assertTrustInForce(gateway: RunningGateway, probePath: string): Promise<void> {
  const response = await fetch(`${gateway.origin}${probePath}`)
  await response.body?.cancel()
  if (response.status !== 401) throw new Error(`${probePath} answered ${response.status}, not 401`)
  await assertVarsKept(gateway)
}

/** The reload must keep `npm start`'s `--var` overrides: ISSUER still names the running gateway. */
async function assertVarsKept(gateway: RunningGateway): Promise<void> {
  const response = await fetch(`${gateway.origin}/.well-known/oauth-authorization-server`)
  const { issuer } = (await response.json()) as { issuer?: string }
  if (issuer !== gateway.origin)
    throw new Error(`after the reload ISSUER is ${issuer}, not ${gateway.origin}`)
}
