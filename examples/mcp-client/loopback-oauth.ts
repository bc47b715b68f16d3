/**
 * The OAuth half of the example: an `OAuthClientProvider` (the SDK's interface; the SDK calls it
 * during discovery, registration, authorization and token exchange) that keeps everything in
 * memory, and the loopback redirect receiver (RFC 8252 §7.3): a one-shot HTTP server on
 * 127.0.0.1 whose `/callback` receives the authorization code from the browser.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'

/**
 * Held in memory only, so every run registers a new client and signs in again. A real client
 * persists what the SDK hands to `saveClientInformation` and `saveTokens` *unchanged* (the SDK
 * stamps them with the authorization server they belong to) in the OS keychain or similar.
 */
export class InMemoryOAuthProvider implements OAuthClientProvider {
  private client?: OAuthClientInformationMixed
  private savedTokens?: OAuthTokens
  private verifier?: string
  /** The `state` of the authorization request under way; the callback must bring it back. */
  readonly expectedState = randomBytes(16).toString('base64url')

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadata: OAuthClientMetadata,
    private readonly onAuthorizationUrl: (url: URL) => void,
  ) {}

  state(): string {
    return this.expectedState
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client
  }
  /** Called after dynamic registration (RFC 7591) at the AS's `registration_endpoint`. */
  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.client = information
  }
  tokens(): OAuthTokens | undefined {
    return this.savedTokens
  }
  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens
  }
  /** A CLI cannot redirect a browser: it shows the URL (with PKCE challenge and `resource`). */
  redirectToAuthorization(authorizationUrl: URL): void {
    this.onAuthorizationUrl(authorizationUrl)
  }
  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier
  }
  codeVerifier(): string {
    if (!this.verifier) throw new Error('no PKCE code verifier saved')
    return this.verifier
  }
}

export interface LoopbackReceiver {
  /** `http://127.0.0.1:<port>/callback`: the redirect URI the client registers. */
  redirectUrl: string
  /** The authorization code, once the browser arrives with it and the matching `state`. */
  code(expectedState: string, timeoutMs: number): Promise<string>
  close(): Promise<void>
}

const PAGE = (title: string, text: string): string =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p>`

/** Listens on 127.0.0.1 only (never on every interface: the code must not be catchable elsewhere). */
export async function startLoopbackReceiver(port = 0): Promise<LoopbackReceiver> {
  let settle: { resolve(code: string): void; reject(error: Error): void } | undefined
  let expected = ''
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== '/callback') {
      response.writeHead(404).end()
      return
    }
    const error = url.searchParams.get('error')
    const code = url.searchParams.get('code')
    // RFC 6749 §10.12: a callback without our state may be a forged one (login CSRF).
    if (url.searchParams.get('state') !== expected) {
      response
        .writeHead(400, { 'content-type': 'text/html' })
        .end(PAGE('Sign-in failed', 'Unexpected state.'))
      settle?.reject(new Error('the callback carried another state than the one sent'))
    } else if (error || !code) {
      const reason = error ?? 'no code'
      response.writeHead(400, { 'content-type': 'text/html' }).end(PAGE('Sign-in failed', reason))
      settle?.reject(
        new Error(`authorization failed: ${reason} ${url.searchParams.get('error_description') ?? ''}`),
      )
    } else {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(PAGE('Signed in', 'You can close this window and return to the terminal.'))
      settle?.resolve(code)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    redirectUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    code(expectedState, timeoutMs) {
      expected = expectedState
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no callback in time')), timeoutMs)
        settle = {
          resolve(code) {
            clearTimeout(timer)
            resolve(code)
          },
          reject(error) {
            clearTimeout(timer)
            reject(error)
          },
        }
      })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
