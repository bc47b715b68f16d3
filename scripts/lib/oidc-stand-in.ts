/**
 * A local OpenID Connect provider standing in for Google: panva's oidc-provider with discovery,
 * JWKS, PKCE and its development login page (any user name signs in; the password is ignored).
 * The user name becomes the account: "ada" signs in as ada@stand-in.example, "ada@corp.example"
 * as itself; the email is asserted as verified, like Google does for its own accounts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { type Configuration } from 'oidc-provider'

export interface OidcStandInOptions {
  port?: number
  host?: string
  clientId: string
  clientSecret: string
  redirectUris: string[]
}

export interface OidcStandIn {
  issuer: string
  close(): Promise<void>
}

function claimsOf(accountId: string): Record<string, unknown> {
  const email = accountId.includes('@') ? accountId : `${accountId}@stand-in.example`
  return {
    sub: accountId,
    email,
    email_verified: true,
    preferred_username: email.split('@')[0],
    name: accountId,
  }
}

export async function startOidcStandIn(options: OidcStandInOptions): Promise<OidcStandIn> {
  const host = options.host ?? '127.0.0.1'
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, resolve)
  })
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'stand-in-1', alg: 'ES256', use: 'sig' }

  const configuration: Configuration = {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk as never] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'] },
    // Code flow: put the requested claims into the ID token too (the gateway reads them there).
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => claimsOf(id) as never }),
    // A first-party client: no consent screen, signing in is all it takes.
    loadExistingGrant: async (ctx) => {
      const accountId = ctx.oidc.session?.accountId
      const clientId = ctx.oidc.client?.clientId
      if (!accountId || !clientId) return undefined
      const grant = new ctx.oidc.provider.Grant({ accountId, clientId })
      grant.addOIDCScope('openid email profile')
      await grant.save()
      return grant
    },
    ttl: {
      AccessToken: 300,
      IdToken: 300,
      AuthorizationCode: 60,
      Grant: 600,
      Session: 600,
      Interaction: 600,
    },
  }
  const provider = new Provider(issuer, configuration)
  server.on('request', provider.callback())
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
