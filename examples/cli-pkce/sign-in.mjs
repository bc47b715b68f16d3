#!/usr/bin/env node
/**
 * A command-line app that signs its user in through the gateway: the authorization code flow with
 * PKCE (RFC 7636) and a loopback redirect URI (RFC 8252 §7.3), using panva's oauth4webapi and
 * nothing of the gateway's own code. It prints the URL to open in a browser, waits for the
 * redirect on 127.0.0.1, redeems the code, and prints what it got.
 *
 *   npm run admin -- create-client cli-demo --public --redirect-uri http://127.0.0.1/callback \
 *     --scope openid --scope profile --scope read --name "CLI demo"
 *   node examples/cli-pkce/sign-in.mjs
 *
 * Settings (environment): ISSUER (default http://127.0.0.1:8787), CLIENT_ID (cli-demo),
 * SCOPE ("openid profile read"), PORT (0: any free port; loopback redirect URIs match any port).
 * It prints tokens on purpose: it is a demo. A real app keeps them out of logs and terminals.
 */
import { createServer } from 'node:http'
import * as oauth from 'oauth4webapi'

const issuer = new URL(process.env.ISSUER ?? 'http://127.0.0.1:8787')
const client = { client_id: process.env.CLIENT_ID ?? 'cli-demo' }
const scope = process.env.SCOPE ?? 'openid profile read'
// oauth4webapi refuses plain http unless told; allow it only for a gateway on this machine.
const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)
const http = { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' && loopback }

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...http }),
)

// PKCE: the verifier stays here; only its SHA-256 (the challenge) travels in the browser's URL.
const verifier = oauth.generateRandomCodeVerifier()
const state = oauth.generateRandomState()
const nonce = oauth.generateRandomNonce()

const server = createServer()
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))
const redirectUri = `http://127.0.0.1:${server.address().port}/callback`

const authorize = new URL(as.authorization_endpoint)
authorize.search = new URLSearchParams({
  response_type: 'code',
  client_id: client.client_id,
  redirect_uri: redirectUri,
  scope,
  state,
  nonce,
  code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
}).toString()
console.log(`Open this URL in a browser to sign in:\n\n  ${authorize.href}\n`)

const callback = await new Promise((resolve) => {
  server.on('request', (request, response) => {
    const url = new URL(request.url ?? '/', redirectUri)
    if (url.pathname !== '/callback') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
    response.end('Signed in. You can close this tab and go back to the terminal.\n')
    resolve(url)
  })
})
server.close()

try {
  // Checks state and iss (RFC 9207: the answer comes from the server we asked), and error answers.
  const params = oauth.validateAuthResponse(as, client, callback, state)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(), // a public client: no secret; the code_verifier proves it started the flow
    params,
    redirectUri,
    verifier,
    http,
  )
  // Verifies the ID token's signature (JWKS), issuer, audience, nonce and expiry.
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: nonce,
    requireIdToken: scope.split(' ').includes('openid'),
  })
  const claims = oauth.getValidatedIdTokenClaims(tokens)
  const userinfo = claims
    ? await oauth.processUserInfoResponse(
        as,
        client,
        claims.sub,
        await oauth.userInfoRequest(as, client, tokens.access_token, http),
      )
    : undefined
  console.log(
    JSON.stringify(
      {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: tokens.expires_in,
        scope: tokens.scope,
        id_token_claims: claims,
        userinfo,
      },
      null,
      2,
    ),
  )
} catch (error) {
  console.error(`Sign-in failed: ${error instanceof Error ? error.message : error}`)
  process.exitCode = 1
}
