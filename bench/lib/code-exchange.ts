/**
 * Cost per login of the authorization-code flow (RFC 6749 §4.1 + PKCE): a public client with
 * `skip_consent` is registered through the gateway's own `insertClient` (against the bench's D1,
 * bench-database.ts; once, by the environment: its first login's token is the template of the
 * `delegated-steady` scenario's tokens), then each login is a real `GET /auth/authorize` on the
 * bench user's browser session (302 with a code) and a real `POST /auth/token`
 * `grant_type=authorization_code`. Timed one at a time: wall
 * time and the workerd process's CPU per step.
 */
import { createHash, randomBytes } from 'node:crypto'
import { insertClient } from '../../src/oauth/client-store'
import { benchDatabase } from './bench-database'
import { median } from './schedule'

/** The bench's OAuth client: public, PKCE, `skip_consent`, not first-party (its tokens are delegated). */
export const CODE_CLIENT_ID = 'bench-code-client'
const REDIRECT_URI = 'http://127.0.0.1:9/callback'

export interface CodeExchangeResult {
  logins: number
  /** workerd CPU of one `GET /auth/authorize` that issues a code (session known, no consent page). */
  authorizeCpuMs: number
  /** workerd CPU of one code → tokens exchange at `POST /auth/token`. */
  tokenCpuMs: number
  /** Median wall time of the exchange. */
  tokenMs: number
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** Registers the bench's OAuth client (once per run, before any code login). */
export async function registerCodeClient(d1Origin: string): Promise<void> {
  await insertClient(benchDatabase(d1Origin), {
    clientId: CODE_CLIENT_ID,
    name: 'Bench app',
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'read'],
    roles: [],
    redirectUris: [REDIRECT_URI],
    skipConsent: true,
  })
}

interface CodeLogin {
  /** workerd CPU seconds of the authorize step and of the exchange. */
  authorizeCpu: number
  tokenCpu: number
  /** Wall time of the exchange, ms. */
  tokenMs: number
  /** The access token the exchange returned: a delegated token of CODE_CLIENT_ID. */
  accessToken: string
}

/** One login: `GET /auth/authorize` on the browser session (302 with a code), then the exchange. */
export async function codeLogin(options: {
  gatewayOrigin: string
  sessionCookie: string
  state: string
  cpuSeconds(): number
}): Promise<CodeLogin> {
  const { verifier, challenge } = pkcePair()
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CODE_CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid read',
    state: `s${options.state}`,
    nonce: `n${options.state}`,
  })
  let cpu = options.cpuSeconds()
  const authorize = await fetch(`${options.gatewayOrigin}/auth/authorize?${query}`, {
    redirect: 'manual',
    headers: { cookie: options.sessionCookie, 'sec-fetch-site': 'same-origin' },
  })
  await authorize.text()
  const authorizeCpu = options.cpuSeconds() - cpu
  const location = authorize.headers.get('location') ?? ''
  const code = location.startsWith(REDIRECT_URI) ? new URL(location).searchParams.get('code') : null
  if (authorize.status !== 302 || !code)
    throw new Error(`authorize: expected a 302 with a code, got ${authorize.status} ${location}`)
  cpu = options.cpuSeconds()
  const started = performance.now()
  const token = await fetch(`${options.gatewayOrigin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: CODE_CLIENT_ID,
    }),
  })
  const body = (await token.json()) as { access_token?: string; id_token?: string }
  const tokenMs = performance.now() - started
  const tokenCpu = options.cpuSeconds() - cpu
  if (token.status !== 200 || !body.access_token || !body.id_token)
    throw new Error(`code exchange: expected 200 with tokens, got ${token.status}`)
  return { authorizeCpu, tokenCpu, tokenMs, accessToken: body.access_token }
}

/** `logins` code logins one at a time (the client registered by registerCodeClient). */
export async function measureCodeExchange(options: {
  gatewayOrigin: string
  sessionCookie: string
  logins: number
  cpuSeconds(): number
}): Promise<CodeExchangeResult> {
  let authorizeCpu = 0
  let tokenCpu = 0
  const tokenMs: number[] = []
  for (let i = 0; i < options.logins; i++) {
    const login = await codeLogin({ ...options, state: String(i) })
    authorizeCpu += login.authorizeCpu
    tokenCpu += login.tokenCpu
    tokenMs.push(login.tokenMs)
  }
  return {
    logins: options.logins,
    authorizeCpuMs: (authorizeCpu * 1000) / options.logins,
    tokenCpuMs: (tokenCpu * 1000) / options.logins,
    tokenMs: median(tokenMs),
  }
}
