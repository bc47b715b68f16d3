import { PASSWORD } from './accounts'
import { GATEWAY, gatewayFetch } from './gateway'

export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>

/** name → value of every Set-Cookie of a response (an empty value: a cookie being cleared). */
export function setCookies(response: Response): Map<string, { value: string; attributes: string }> {
  const out = new Map<string, { value: string; attributes: string }>()
  for (const line of response.headers.getAll('set-cookie')) {
    const [pair = '', ...rest] = line.split(';')
    const index = pair.indexOf('=')
    out.set(pair.slice(0, index).trim(), { value: pair.slice(index + 1), attributes: rest.join(';').trim() })
  }
  return out
}

export interface LoginFormState {
  csrfCookie: string
  csrfField: string
  names: { session: string; csrf: string }
}

/** GET /auth/login: the CSRF cookie it sets and the token the form carries. */
export async function openLoginForm(
  through: Fetcher = gatewayFetch,
  cookie?: string,
): Promise<LoginFormState> {
  const response = await through('/auth/login', { headers: cookie ? { cookie } : {} })
  const html = await response.text()
  const field = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const set = setCookies(response)
  const csrfName = [...set.keys()].find((name) => name.endsWith('gw_csrf'))
  const https = csrfName?.startsWith('__Host-') ?? false
  return {
    csrfCookie: csrfName ? (set.get(csrfName)?.value ?? '') : '',
    csrfField: field,
    names: https
      ? { session: '__Host-gw_session', csrf: '__Host-gw_csrf' }
      : { session: 'gw_session', csrf: 'gw_csrf' },
  }
}

export interface BrowserLogin {
  response: Response
  session: string
  csrf: string
  names: { session: string; csrf: string }
  /** The Cookie header a browser would now send. */
  cookie: string
}

export interface LoginOptions {
  password?: string
  remember?: boolean
  /** Default `/app/`; `null` sends the form without a `return_to` field. */
  returnTo?: string | null
  /** Cookies the browser already holds (e.g. an older session), sent with both requests. */
  cookie?: string
  headers?: Record<string, string>
  through?: Fetcher
}

/** A browser login through the form: GET then POST, as a same-origin page would send it. */
export async function browserLogin(username: string, options: LoginOptions = {}): Promise<BrowserLogin> {
  const through = options.through ?? gatewayFetch
  const form = await openLoginForm(through, options.cookie)
  const body = new URLSearchParams({
    username,
    password: options.password ?? PASSWORD,
    csrf: form.csrfField,
    ...(options.returnTo === null ? {} : { return_to: options.returnTo ?? '/app/' }),
    ...(options.remember ? { remember: '1' } : {}),
  })
  // The form reuses a CSRF cookie the browser already has; else it set a new one.
  const newCsrf = form.csrfCookie ? `${form.names.csrf}=${form.csrfCookie}` : undefined
  const cookie = [options.cookie, newCsrf].filter(Boolean).join('; ')
  const response = await through('/auth/login', {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      origin: GATEWAY,
      accept: 'text/html',
      cookie,
      ...options.headers,
    },
    body,
  })
  const set = setCookies(response)
  const session = set.get(form.names.session)?.value ?? ''
  const csrf = set.get(form.names.csrf)?.value ?? ''
  return {
    response,
    session,
    csrf,
    names: form.names,
    cookie: `${form.names.session}=${session}; ${form.names.csrf}=${csrf}`,
  }
}

/** Headers of a same-origin browser request with the session (for unsafe methods too). */
export function sameOrigin(login: BrowserLogin, extra: Record<string, string> = {}): Record<string, string> {
  return { cookie: login.cookie, 'sec-fetch-site': 'same-origin', origin: GATEWAY, ...extra }
}
