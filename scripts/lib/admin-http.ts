/**
 * The admin CLI over HTTP: with `--url` and `--token` (or GATEWAY_URL and GATEWAY_ADMIN_TOKEN)
 * the commands act through the running gateway's admin API instead of driving D1 with wrangler,
 * which also works while `npm start` runs and needs no Cloudflare credentials, only an admin's
 * access token. Prefer the environment variable for the token: argv is visible in `ps`.
 */

export interface RemoteTarget {
  url: string
  token: string
}

export const REMOTE_HELP = `Over HTTP (instead of D1):
  --url URL            the gateway's origin (or GATEWAY_URL); acts through its admin API
  --token TOKEN        an admin's access token (or GATEWAY_ADMIN_TOKEN, preferred: argv shows in ps)
  --json               machine-readable output (JSON; one object per line for lists)`

export const REMOTE_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The HTTP target when --url or GATEWAY_URL is set; undefined means "D1 through wrangler". */
export function readRemote(values: { url?: string; token?: string }): RemoteTarget | undefined {
  const url = values.url ?? process.env.GATEWAY_URL
  if (url === undefined || url === '') {
    if (values.token !== undefined) throw new Error('--token needs --url (or GATEWAY_URL)')
    return undefined
  }
  let origin: URL
  try {
    origin = new URL(url)
  } catch {
    throw new Error('--url must be an http(s) URL like https://auth.example.com')
  }
  if (origin.protocol !== 'https:' && origin.protocol !== 'http:') throw new Error('--url must be http(s)')
  const token = values.token ?? process.env.GATEWAY_ADMIN_TOKEN
  if (!token) throw new Error('--url needs an admin access token: --token or GATEWAY_ADMIN_TOKEN')
  return { url: origin.origin, token }
}

export class AdminApiError extends Error {
  override name = 'AdminApiError'
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** One admin API call; the gateway's error body becomes the message (it never holds a secret). */
export async function adminRequest<T>(
  remote: RemoteTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ data: T; headers: Headers }> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${remote.token}`,
    accept: 'application/json',
  }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(`${remote.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    })
  } catch (error) {
    throw new Error(`cannot reach ${remote.url}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const text = await response.text()
  if (!response.ok) {
    let message = `HTTP ${response.status}`
    try {
      const parsed = JSON.parse(text) as { error?: string; error_description?: string }
      if (parsed.error) message = `${parsed.error}: ${parsed.error_description ?? ''}`.trim()
    } catch {
      // Not the gateway's JSON (a proxy in between): the status says enough.
    }
    throw new AdminApiError(response.status, message)
  }
  const contentType = response.headers.get('content-type') ?? ''
  const data = (
    text === ''
      ? undefined
      : contentType.includes('json') && !contentType.includes('jsonl')
        ? JSON.parse(text)
        : text
  ) as T
  return { data, headers: response.headers }
}

interface RemoteUser {
  id: string
  username: string
  roles: string[]
  disabled: boolean
}

/** The user with exactly this username (case-insensitively), through the search endpoint. */
export async function findRemoteUser(remote: RemoteTarget, username: string): Promise<RemoteUser> {
  const { data } = await adminRequest<{ items: RemoteUser[] }>(
    remote,
    'GET',
    `/admin/users?q=${encodeURIComponent(username)}&limit=200`,
  )
  const user = data.items.find((item) => item.username.toLowerCase() === username.toLowerCase())
  if (!user) throw new Error(`no user "${username}"`)
  return user
}

export function userPath(id: string, suffix = ''): string {
  return `/admin/users/${encodeURIComponent(id)}${suffix}`
}
