/** The real account flows, driven over HTTP: the benchmark's user and API key come from the gateway itself. */

export interface BenchAccount {
  username: string
  password: string
  accessToken: string
  apiKey: string
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

/** Registers a user, logs in `logins` times (timed), and creates an API key with the last access token. */
export async function createBenchAccount(
  origin: string,
  logins: number,
  cpuSeconds: () => number,
): Promise<BenchAccount> {
  const username = 'bench-user'
  const password = `bench-${crypto.randomUUID()}`
  await expectStatus(
    await fetch(`${origin}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    }),
    201,
    'register',
  )
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
  return { username, password, accessToken, apiKey: created.key, loginMs, loginCpuMs }
}
