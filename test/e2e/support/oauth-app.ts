/**
 * A third-party app as browser tests meet it: a loopback redirect URI (RFC 8252 §7.3) served by
 * this process, and the authorization code + PKCE request and redemption done by a stock client
 * library (panva's oauth4webapi), exactly as an app would do them.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as oauth from 'oauth4webapi'

/** Loopback http only: oauth4webapi refuses plain http unless told. */
export const insecure = { [oauth.allowInsecureRequests]: true }

export interface Callback {
  origin: string
  close(): Promise<void>
}

/**
 * The app's loopback redirect URI: a plain page, or what `pageFor` returns for a path (an app's own
 * pages on the same origin). Tests read what arrived from the browser's URL, as an app reads its
 * callback.
 */
export async function startCallback(
  pageFor: (path: string) => string | undefined = () => undefined,
): Promise<Callback> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end(pageFor(path) ?? '<!doctype html><title>app</title><p>signed in</p>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Discovery through the library, as an app configured with only the issuer does it. */
export async function discover(issuerOrigin: string): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(issuerOrigin)
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  )
}

/** One authorization request of a public client: the URL to open and what the app keeps. */
export interface StartedAuthorization {
  url: URL
  verifier: string
  state: string
  nonce: string
}

export async function startAuthorization(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  redirectUri: string,
  scope: string,
): Promise<StartedAuthorization> {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint as string)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString()
  return { url, verifier, state, nonce }
}

/** The app's token request for the code that arrived at `at` (PKCE, public client), unprocessed. */
export async function codeGrantRequest(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  started: StartedAuthorization,
  redirectUri: string,
  at: URL,
): Promise<{ params: URLSearchParams; response: Response }> {
  const params = oauth.validateAuthResponse(as, client, at, started.state)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri,
    started.verifier,
    insecure,
  )
  return { params, response }
}

/** Redeems the code that arrived at `at` and checks the response (and its ID token's nonce). */
export async function redeemCode(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  started: StartedAuthorization,
  redirectUri: string,
  at: URL,
): Promise<oauth.TokenEndpointResponse> {
  const { response } = await codeGrantRequest(as, client, started, redirectUri, at)
  return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: started.nonce })
}
