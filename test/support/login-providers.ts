/**
 * Driving sign-ins through external providers in the workerd tests, like a browser would: start
 * at /auth/login/{provider} (which sets the flow cookie), follow the redirect to the provider on
 * loopback, come back to /auth/callback/{provider} with the provider's answer and the cookies.
 */
import { env } from 'cloudflare:test'
import { expect, inject } from 'vitest'
import type { Env } from '../../src/env'
import { fetchWithEnv, GATEWAY } from './gateway'
import type { OidcScenario } from './oidc-test-provider'
import { GITHUB_TEST_CLIENT } from './provider-names'
import { setCookies } from './sessions'

export const OIDC_ORIGIN = inject('oidcTestOrigin')
export const GITHUB_ORIGIN = inject('githubStandInOrigin')
export const OIDC_SECRET = 'oidc-test-client-secret'
export const CLIENT_ID = 'gateway-client'

export interface TestOidc {
  issuer: string
  name: string
  /** Replaces the provider's script (what it answers from now on). */
  script(changes: Partial<OidcScenario>): Promise<void>
  hits(): Promise<Record<string, number>>
}

export async function oidcProvider(scenario: Partial<OidcScenario> = {}): Promise<TestOidc> {
  const id = crypto.randomUUID().slice(0, 8)
  const issuer = `${OIDC_ORIGIN}/t/${id}`
  let current: OidcScenario = {
    clientId: CLIENT_ID,
    clientSecret: OIDC_SECRET,
    sub: `sub-${id}`,
    email: `ada-${id}@example.com`,
    emailVerified: true,
    preferredUsername: `ada-${id}`,
    ...scenario,
  }
  const put = async () => {
    const response = await fetch(`${issuer}/scenario`, { method: 'PUT', body: JSON.stringify(current) })
    expect(response.status).toBe(204)
  }
  await put()
  return {
    issuer,
    name: `oidc-${id}`,
    script: async (changes) => {
      current = { ...current, ...changes }
      await put()
    },
    hits: async () => (await (await fetch(`${issuer}/hits`)).json()) as Record<string, number>,
  }
}

export function oidcConfig(idp: TestOidc, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: idp.name,
    display_name: 'Test OIDC',
    kind: 'oidc',
    issuer: idp.issuer,
    client_id: CLIENT_ID,
    client_secret_secret: 'TEST_OIDC_SECRET',
    registration: true,
    ...extra,
  }
}

export function githubConfig(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    display_name: 'Test GitHub',
    kind: 'github',
    authorization_url: `${GITHUB_ORIGIN}/login/oauth/authorize`,
    token_url: `${GITHUB_ORIGIN}/login/oauth/access_token`,
    api_url: `${GITHUB_ORIGIN}/api/v3`,
    client_id: GITHUB_TEST_CLIENT.clientId,
    client_secret_secret: 'TEST_GITHUB_SECRET',
    registration: true,
    ...extra,
  }
}

export interface GithubUserInput {
  id: number
  login: string
  email?: string
  verified?: boolean
  orgs?: string[]
}

export async function githubUser(user: GithubUserInput): Promise<void> {
  const body = {
    id: user.id,
    login: user.login,
    emails: user.email ? [{ email: user.email, primary: true, verified: user.verified ?? true }] : [],
    orgs: user.orgs ?? [],
  }
  const response = await fetch(`${GITHUB_ORIGIN}/__users/${user.login}`, {
    method: 'PUT',
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(204)
}

/** A gateway whose LOGIN_PROVIDERS are `providers`, with their secrets set. */
export function providerEnv(providers: Record<string, unknown>[], extra: Partial<Env> = {}): Partial<Env> {
  return {
    LOGIN_PROVIDERS: providers,
    TEST_OIDC_SECRET: OIDC_SECRET,
    TEST_GITHUB_SECRET: GITHUB_TEST_CLIENT.clientSecret,
    ...extra,
  }
}

/** A browser's cookie jar (name → value), as a Cookie header. */
export class Jar {
  readonly cookies = new Map<string, string>()
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
  take(response: Response): void {
    for (const [name, { value }] of setCookies(response)) {
      if (value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
}

export interface Through {
  env: Partial<Env>
  jar: Jar
}

export async function gatewayGet(through: Through, path: string, headers: Record<string, string> = {}) {
  const response = await fetchWithEnv(through.env, path.replace(GATEWAY, ''), {
    redirect: 'manual',
    headers: { accept: 'text/html', cookie: through.jar.header(), ...headers },
  })
  through.jar.take(response)
  return response
}

/** GET /auth/login/{provider}: the provider's authorization URL it redirects to. */
export async function startLogin(
  through: Through,
  provider: string,
  query = 'return_to=/app/',
  headers = {},
) {
  const response = await gatewayGet(through, `/auth/login/${provider}?${query}`, headers)
  expect(response.status, await response.clone().text()).toBe(302)
  return new URL(response.headers.get('location') ?? '')
}

/** The OIDC test provider's answer: the callback URL it redirects the browser to. */
export async function atOidcProvider(authorize: URL): Promise<string> {
  const response = await fetch(authorize, { redirect: 'manual' })
  expect(response.status).toBe(302)
  return response.headers.get('location') ?? ''
}

/** The GitHub stand-in's consent page, answered: sign in as `login` (or cancel). */
export async function atGithub(authorize: URL, login: string | 'cancel'): Promise<string> {
  const form = new URLSearchParams(authorize.searchParams)
  form.set(login === 'cancel' ? 'cancel' : 'login', login === 'cancel' ? '1' : login)
  const response = await fetch(`${GITHUB_ORIGIN}/login/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  })
  expect(response.status, await response.clone().text()).toBe(302)
  return response.headers.get('location') ?? ''
}

/** The whole OIDC round trip; returns the callback's response. */
export async function signInOidc(through: Through, idp: TestOidc, query?: string): Promise<Response> {
  const callback = await atOidcProvider(await startLogin(through, idp.name, query))
  return gatewayGet(through, callback)
}

/** The error text the login page shows. */
export async function loginError(response: Response): Promise<string> {
  const html = await response.text()
  return /role="alert">([^<]*)</.exec(html)?.[1]?.replace(/&#39;/g, "'") ?? ''
}

export async function userCount(): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM users').first<{ n: number }>()
  return row?.n ?? 0
}

export async function identityCount(provider: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM external_identities WHERE provider = ?1')
    .bind(provider)
    .first<{ n: number }>()
  return row?.n ?? 0
}

export function newBrowser(providers: Record<string, unknown>[], extra: Partial<Env> = {}): Through {
  return { env: providerEnv(providers, extra), jar: new Jar() }
}
