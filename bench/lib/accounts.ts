/** The real account flows, driven over HTTP: the benchmark's user and API key come from the gateway itself. */

export interface BenchAccount {
  username: string
  password: string
  accessToken: string
  apiKey: string
  /** `name=value` of a browser session cookie, from the real login form. */
  sessionCookie: string
  /** Wall time of each `POST /auth/token` (password grant), in ms. */
  loginMs: number[]
  /** CPU time the serving process spent on all the logins together, in ms. */
  loginCpuMs: number
}

async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const text = await response.text()
  if (response.status !== status)
    throw new Error(`${what}: expected ${status}, got ${response.status}: ${text}`)
  return text ? (JSON.parse(text) as unknown) : undefined
}

async function login(origin: string, username: string, password: string): Promise<[string, number]> {
  const started = performance.now()
  const response = await fetch(`${origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  })
  const body = (await expectStatus(response, 200, 'password grant')) as { access_token: string }
  return [body.access_token, performance.now() - started]
}

/** The `name=value` of the cookie `name` (with or without `__Host-`) a response sets, if any. */
export function setCookieOf(response: Response, name: string): string | undefined {
  const prefix = new RegExp(`^(__Host-)?${name}=`)
  return response.headers
    .getSetCookie()
    .find((line) => prefix.test(line))
    ?.split(';')[0]
}

export interface LoginForm {
  /** `name=value` of the pre-session CSRF cookie. */
  csrfCookie: string
  /** The form's `csrf` field. */
  csrf: string
}

/** GET /auth/login: the pre-session CSRF cookie and the form's token, as a browser gets them. */
export async function openLoginForm(origin: string): Promise<LoginForm> {
  const form = await fetch(`${origin}/auth/login`)
  const html = await form.text()
  const csrfCookie = setCookieOf(form, 'gw_csrf')
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1]
  if (!csrfCookie || !csrf) throw new Error('login form: no CSRF cookie or token')
  return { csrfCookie, csrf }
}

/** POST /auth/login as the form sends it (same-origin), unanswered: the caller checks the answer. */
export async function postLoginForm(
  origin: string,
  form: LoginForm,
  credentials: { username: string; password: string },
): Promise<Response> {
  const response = await fetch(`${origin}/auth/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      cookie: form.csrfCookie,
    },
    body: new URLSearchParams({ ...credentials, csrf: form.csrf, return_to: '/app/' }),
  })
  await response.text()
  return response
}

/** Signs in through the browser login form (GET for its CSRF token, then a same-origin POST). */
async function browserSession(origin: string, username: string, password: string): Promise<string> {
  const response = await postLoginForm(origin, await openLoginForm(origin), { username, password })
  const session = setCookieOf(response, 'gw_session')
  if (response.status !== 303 || !session)
    throw new Error(`browser login: expected 303, got ${response.status}`)
  return session
}

/** POST /auth/register (JSON): a new user, by the gateway's own registration. */
export async function registerUser(origin: string, username: string, password: string): Promise<string> {
  const created = (await expectStatus(
    await fetch(`${origin}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    }),
    201,
    'register',
  )) as { id: string }
  return created.id
}

/** Registers a user, logs in `logins` times (timed), and creates an API key with the last access token. */
export async function createBenchAccount(
  origin: string,
  logins: number,
  cpuSeconds: () => number,
): Promise<BenchAccount> {
  const username = 'bench-user'
  const password = `bench-${crypto.randomUUID()}`
  await registerUser(origin, username, password)
  const loginMs: number[] = []
  let accessToken = ''
  const cpuBefore = cpuSeconds()
  for (let i = 0; i < logins; i++) {
    const [token, ms] = await login(origin, username, password)
    accessToken = token
    loginMs.push(ms)
  }
  const loginCpuMs = (cpuSeconds() - cpuBefore) * 1000
  const created = (await expectStatus(
    await fetch(`${origin}/auth/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    }),
    201,
    'create API key',
  )) as { key: string }
  const sessionCookie = await browserSession(origin, username, password)
  return { username, password, accessToken, apiKey: created.key, sessionCookie, loginMs, loginCpuMs }
}
