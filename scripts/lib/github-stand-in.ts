/**
 * A small GitHub-compatible OAuth server for local development and tests: GitHub's documented
 * endpoints for an OAuth app (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps)
 * and the three REST calls the gateway makes. The API answers under /api/v3 too, the path GitHub
 * Enterprise Server uses, so it is configured through the Enterprise-style endpoint overrides.
 *   GET  /login/oauth/authorize     a page listing the stand-in's users: pick one, or cancel
 *   POST /login/oauth/authorize     (that page's form) → redirect_uri?code=…&state=…
 *   POST /login/oauth/access_token  code (+ PKCE code_verifier) → {access_token, token_type, scope}
 *   GET  /user, /user/emails, /user/orgs   with `Authorization: Bearer <token>`
 * With `control: true` (tests only), PUT /__users/<login> adds or replaces a user.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StandInUser {
  id: number
  login: string
  name?: string
  emails: { email: string; primary: boolean; verified: boolean }[]
  orgs: string[]
}

export interface GithubStandInOptions {
  port?: number
  host?: string
  clientId: string
  clientSecret: string
  /** Exact redirect URIs the OAuth app registered. */
  redirectUris: string[]
  users?: StandInUser[]
  control?: boolean
}

export interface GithubStandIn {
  origin: string
  close(): Promise<void>
}

export const STAND_IN_USERS: StandInUser[] = [
  {
    id: 1001,
    login: 'octo-dev',
    name: 'Octo Developer',
    emails: [{ email: 'octo-dev@stand-in.example', primary: true, verified: true }],
    orgs: ['stand-in-org'],
  },
  {
    id: 1002,
    login: 'unverified-dev',
    name: 'Unverified Developer',
    emails: [{ email: 'unverified-dev@stand-in.example', primary: true, verified: false }],
    orgs: [],
  },
]

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  response.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' })
  response.end(text)
}

function consentPage(params: URLSearchParams, users: Iterable<StandInUser>): string {
  const hidden = ['client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method']
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
    .join('')
  const buttons = [...users]
    .map(
      (user) =>
        `<button type="submit" name="login" value="${escapeHtml(user.login)}">Sign in as ${escapeHtml(user.login)}</button>`,
    )
    .join(' ')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GitHub stand-in · Authorize</title></head>
<body><h1>GitHub stand-in</h1><p>Authorize the application to read your profile and email (scope: ${escapeHtml(params.get('scope') ?? '')}).</p>
<form method="post" action="/login/oauth/authorize">${hidden}${buttons}
<button type="submit" name="cancel" value="1">Cancel</button></form></body></html>`
}

export async function startGithubStandIn(options: GithubStandInOptions): Promise<GithubStandIn> {
  const users = new Map((options.users ?? STAND_IN_USERS).map((user) => [user.login, user]))
  const codes = new Map<
    string,
    { login: string; redirectUri: string; challenge: string; scope: string; until: number }
  >()
  const tokens = new Map<string, string>()

  function redirectBack(response: ServerResponse, redirectUri: string, params: Record<string, string>): void {
    const url = new URL(redirectUri)
    for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value)
    response.writeHead(302, { location: url.href }).end()
  }

  function authorizeCheck(params: URLSearchParams): string | undefined {
    if (params.get('client_id') !== options.clientId) return 'unknown client_id'
    if (!options.redirectUris.includes(params.get('redirect_uri') ?? '')) return 'redirect_uri not registered'
    return undefined
  }

  function tokenUser(request: IncomingMessage): StandInUser | undefined {
    const match = /^(?:Bearer|token) (.+)$/i.exec(request.headers.authorization ?? '')
    const login = match ? tokens.get(match[1] ?? '') : undefined
    return login ? users.get(login) : undefined
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stand-in')
    const path = url.pathname.replace(/^\/api\/v3(?=\/)/, '')
    if (path === '/login/oauth/authorize' && request.method === 'GET') {
      const problem = authorizeCheck(url.searchParams)
      if (problem) return send(response, 400, problem, 'text/plain')
      return send(response, 200, consentPage(url.searchParams, users.values()), 'text/html')
    }
    if (path === '/login/oauth/authorize' && request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request))
      const problem = authorizeCheck(form)
      if (problem) return send(response, 400, problem, 'text/plain')
      const redirectUri = form.get('redirect_uri') as string
      const state = form.get('state') ?? ''
      if (form.get('cancel')) return redirectBack(response, redirectUri, { error: 'access_denied', state })
      const login = form.get('login') ?? ''
      if (!users.has(login)) return send(response, 400, 'unknown user', 'text/plain')
      const code = randomBytes(20).toString('hex')
      const challenge = form.get('code_challenge_method') === 'S256' ? (form.get('code_challenge') ?? '') : ''
      codes.set(code, {
        login,
        redirectUri,
        challenge,
        scope: form.get('scope') ?? '',
        until: Date.now() + 600_000,
      })
      return redirectBack(response, redirectUri, { code, state })
    }
    if (path === '/login/oauth/access_token' && request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request))
      const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? '')
      const [basicId, basicSecret] = basic
        ? Buffer.from(basic[1] ?? '', 'base64')
            .toString()
            .split(':')
        : []
      const clientId = form.get('client_id') ?? decodeURIComponent(basicId ?? '')
      const secret = form.get('client_secret') ?? decodeURIComponent(basicSecret ?? '')
      if (clientId !== options.clientId || secret !== options.clientSecret)
        return send(response, 200, { error: 'incorrect_client_credentials' })
      const code = form.get('code') ?? ''
      const grant = codes.get(code)
      codes.delete(code)
      const verifier = form.get('code_verifier') ?? ''
      const pkceOk =
        !grant?.challenge || createHash('sha256').update(verifier).digest('base64url') === grant.challenge
      // GitHub answers a bad code with 200 and an error body.
      if (!grant || grant.until < Date.now() || grant.redirectUri !== form.get('redirect_uri') || !pkceOk)
        return send(response, 200, { error: 'bad_verification_code' })
      const token = `gho_${randomBytes(18).toString('hex')}`
      tokens.set(token, grant.login)
      return send(response, 200, {
        access_token: token,
        token_type: 'bearer',
        scope: grant.scope.replace(/ /g, ','),
      })
    }
    if (options.control && path.startsWith('/__users/') && request.method === 'PUT') {
      const user = JSON.parse(await readBody(request)) as StandInUser
      users.set(user.login, user)
      return send(response, 204, '')
    }
    if (request.method === 'GET' && ['/user', '/user/emails', '/user/orgs'].includes(path)) {
      const user = tokenUser(request)
      if (!user) return send(response, 401, { message: 'Bad credentials' })
      if (path === '/user')
        return send(response, 200, { id: user.id, login: user.login, name: user.name ?? null })
      if (path === '/user/emails') return send(response, 200, user.emails)
      return send(
        response,
        200,
        user.orgs.map((login) => ({ login })),
      )
    }
    send(response, 404, { message: 'Not Found' })
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => send(response, 500, { message: 'stand-in error' }))
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, resolve)
  })
  return {
    origin: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
