/**
 * The passkey ceremonies as the login page's and the passkeys page's script send them, through the
 * real Worker: a browser is a cookie jar (session, CSRF, challenge binding) plus same-origin headers.
 */
import { createUser } from './accounts'
import { GATEWAY, gatewayFetch } from './gateway'
import { browserLogin, openLoginForm, setCookies } from './sessions'
import { type CreationOptions, type RequestOptions, TestAuthenticator, type Tweaks } from './webauthn'

/** A browser's cookies by name; `header()` is its Cookie header. */
export class Jar {
  readonly cookies = new Map<string, string>()

  take(response: Response): void {
    for (const [name, { value }] of setCookies(response)) {
      if (value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  clone(): Jar {
    const copy = new Jar()
    for (const [name, value] of this.cookies) copy.cookies.set(name, value)
    return copy
  }
}

/** A same-origin fetch from a page of the gateway, with the jar's cookies (and taking new ones). */
export async function pageFetch(
  jar: Jar,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    cookie: jar.header(),
    'sec-fetch-site': 'same-origin',
    origin: GATEWAY,
    accept: 'application/json',
    ...init.headers,
  }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const response = await gatewayFetch(path, {
    method: init.method ?? 'GET',
    headers,
    redirect: 'manual',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  jar.take(response)
  return response
}

export interface SignedInUser {
  id: string
  username: string
  jar: Jar
}

/** A new user signed in with a password in a fresh browser. */
export async function signedInUser(username: string): Promise<SignedInUser> {
  const user = await createUser(username)
  const login = await browserLogin(username)
  const jar = new Jar()
  jar.cookies.set(login.names.session, login.session)
  jar.cookies.set(login.names.csrf, login.csrf)
  return { id: user.id, username, jar }
}

export async function creationOptions(jar: Jar): Promise<CreationOptions> {
  const response = await pageFetch(jar, '/auth/passkeys/registration-options', { method: 'POST', body: {} })
  if (response.status !== 200)
    throw new Error(`registration-options: ${response.status} ${await response.text()}`)
  return response.json()
}

/** Registers a new passkey for the signed-in browser; returns the finish response. */
export async function register(
  jar: Jar,
  authenticator: TestAuthenticator,
  options: { name?: string; tweaks?: Tweaks; creation?: CreationOptions; finishJar?: Jar } = {},
): Promise<Response> {
  const creation = options.creation ?? (await creationOptions(jar))
  const credential = await authenticator.register(creation, options.tweaks)
  return pageFetch(options.finishJar ?? jar, '/auth/passkeys', {
    method: 'POST',
    body: { name: options.name ?? 'Test key', credential },
  })
}

/** A user with one registered passkey, signed in with a password in `jar`. */
export async function userWithPasskey(
  username: string,
  authenticatorOptions: Parameters<typeof TestAuthenticator.create>[0] = {},
): Promise<SignedInUser & { authenticator: TestAuthenticator; passkeyId: string }> {
  const user = await signedInUser(username)
  const authenticator = await TestAuthenticator.create(authenticatorOptions)
  const response = await register(user.jar, authenticator)
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`)
  const passkey = (await response.json()) as { id: string }
  return { ...user, authenticator, passkeyId: passkey.id }
}

/** A signed-out browser on the login page: its jar holds the pre-session CSRF cookie. */
export async function loginPage(): Promise<{ jar: Jar; csrf: string }> {
  const form = await openLoginForm()
  const jar = new Jar()
  jar.cookies.set(form.names.csrf, form.csrfCookie)
  return { jar, csrf: form.csrfField }
}

export async function requestOptions(jar: Jar, csrf: string): Promise<RequestOptions> {
  const response = await pageFetch(jar, '/auth/passkeys/authentication-options', {
    method: 'POST',
    body: { csrf },
  })
  if (response.status !== 200)
    throw new Error(`authentication-options: ${response.status} ${await response.text()}`)
  return response.json()
}

/** A passkey sign-in from the login page; returns the finish response. */
export async function signIn(
  authenticator: TestAuthenticator,
  options: {
    tweaks?: Tweaks
    returnTo?: string
    page?: { jar: Jar; csrf: string }
    request?: RequestOptions
    finishJar?: Jar
  } = {},
): Promise<Response> {
  const page = options.page ?? (await loginPage())
  const request = options.request ?? (await requestOptions(page.jar, page.csrf))
  const credential = await authenticator.assert(request, options.tweaks)
  return pageFetch(options.finishJar ?? page.jar, '/auth/passkeys/authentication', {
    method: 'POST',
    body: { csrf: page.csrf, return_to: options.returnTo ?? '/app/', credential },
  })
}
