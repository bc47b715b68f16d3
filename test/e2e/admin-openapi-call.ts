/**
 * What the OpenAPI walk's cases (admin-openapi-cases*.ts) share: the context they run in, one
 * request helper, and a browser's part (cookies, the login form) done with plain fetch, so cases
 * that need a signed-in browser set it up through the gateway's own public endpoints.
 */

export interface CaseContext {
  origin: string
  admin: string
  /** Filled as the cases run. */
  state: Record<string, string>
}

export type Case = [operation: string, run: (ctx: CaseContext) => Promise<Response>]

export interface CallInit {
  token?: string
  json?: unknown
  form?: Record<string, string>
  headers?: Record<string, string>
  /** A `Cookie` header; the request then also says it comes from the gateway's own pages. */
  cookie?: string
}

export function call(ctx: CaseContext, method: string, path: string, init: CallInit = {}) {
  const headers: Record<string, string> = { ...init.headers }
  if (init.token) headers.authorization = `Bearer ${init.token}`
  if (init.cookie) {
    headers.cookie = init.cookie
    headers['sec-fetch-site'] ??= 'same-origin'
  }
  let body: string | undefined
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(init.json)
  } else if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(init.form).toString()
  }
  const url = path.startsWith('http') ? path : `${ctx.origin}${path}`
  return fetch(url, { method, headers, body, redirect: 'manual' })
}

export async function keep(
  ctx: CaseContext,
  name: string,
  response: Response,
  pick: (body: Record<string, string>) => string,
) {
  const copy = response.clone()
  if (copy.ok) ctx.state[name] = pick((await copy.json()) as Record<string, string>)
  return response
}

export const admin = (ctx: CaseContext, method: string, path: string, json?: unknown) =>
  call(ctx, method, path, { token: ctx.admin, json })

/** Setup outside the cases must work, or the case after it fails for the wrong reason. */
export async function expectStatus(response: Response, status: number, what: string): Promise<Response> {
  if (response.status !== status)
    throw new Error(`${what}: expected ${status}, got ${response.status} ${await response.text()}`)
  return response
}

/** The `name=value` pairs a response sets, merged over `cookie` (a `Cookie` header). */
export function withSetCookies(cookie: string, response: Response): string {
  const jar = new Map(
    cookie
      .split('; ')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as const),
  )
  for (const line of response.headers.getSetCookie()) {
    const pair = line.split(';', 1)[0] ?? ''
    const index = pair.indexOf('=')
    if (index > 0) jar.set(pair.slice(0, index), pair.slice(index + 1))
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
}

/** The value of one cookie in a `Cookie` header. */
export function cookieValue(cookie: string, name: string): string {
  const pair = cookie.split('; ').find((entry) => entry.startsWith(`${name}=`))
  if (!pair) throw new Error(`no ${name} cookie`)
  return pair.slice(name.length + 1)
}

/**
 * Signs in through the login form as a browser would (form token from the page's cookie, same
 * origin) and returns the browser's cookies: the session and its CSRF token (`gw_csrf`, plain http).
 */
export async function browserLogin(ctx: CaseContext, username: string, password: string): Promise<string> {
  const form = await expectStatus(await call(ctx, 'GET', '/auth/login'), 200, 'login form')
  let cookie = withSetCookies('', form)
  const signedIn = await call(ctx, 'POST', '/auth/login', {
    cookie,
    form: { username, password, csrf: cookieValue(cookie, 'gw_csrf'), return_to: '/' },
  })
  await expectStatus(signedIn, 303, 'browser login')
  cookie = withSetCookies(cookie, signedIn)
  cookieValue(cookie, 'gw_session')
  return cookie
}
