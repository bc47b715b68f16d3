import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { limitRequest } from '../rate-limit'
import { knownDevice, rememberDevice } from '../sessions'
import type { GrantContext } from '../tokens'
import { loadKeyRing } from '../tokens'
import { authenticateClient } from './client-authentication'
import { clientLookup } from './client-lookup'
import { authorizationCodeGrant } from './code-grant'
import { clientCors } from './cors'
import { clientCredentialsGrant, passwordGrant, refreshGrant } from './grants'

export const tokenRoutes = new Hono<AppBindings>()

// RFC 6749 §5.1: token responses must not be cached; errors are marked the same way.
tokenRoutes.use('/auth/token', async function noStore(c, next) {
  await next()
  c.header('cache-control', 'no-store')
  c.header('pragma', 'no-cache')
})
// Browser apps redeem codes and refresh tokens here themselves (src/oauth/cors.ts).
tokenRoutes.use('/auth/token', clientCors(['POST']))

tokenRoutes.post('/auth/token', async function tokenEndpoint(c) {
  const ip = c.req.header('cf-connecting-ip')
  // Every grant writes D1 (and client authentication reads it): the per-address binding first.
  await limitRequest(c.env, { kind: 'token', ip })
  const form = await readForm(c.req.raw)
  const grantType = form.get('grant_type')
  if (!grantType) throw new GatewayError('invalid_request', 'The "grant_type" parameter is required.')
  const { config, audit } = c.var.ctx
  const lookUp = clientLookup({ db: c.env.DB, kv: c.env.KV, config, audit })
  const auth = await authenticateClient(c.env.DB, c.req.raw, form, lookUp)
  const context: GrantContext = {
    db: c.env.DB,
    kv: c.env.KV,
    config: c.var.ctx.config,
    ring: await loadKeyRing(c.env.SIGNING_KEYS),
    pepper: c.env.PASSWORD_PEPPER,
    ip,
    rateLimits: c.env,
    audit: c.var.ctx.audit,
  }
  switch (grantType) {
    case 'password': {
      const username = form.get('username') ?? ''
      const device = await knownDevice(c, username)
      const response = await passwordGrant(context, form, auth, device)
      await rememberDevice(c, username, device)
      return c.json(response)
    }
    case 'refresh_token':
      return c.json(await refreshGrant(context, form, auth))
    case 'client_credentials':
      return c.json(await clientCredentialsGrant(context, form, auth))
    case 'authorization_code':
      return c.json(await authorizationCodeGrant(context, form, auth))
    default:
      throw new GatewayError('unsupported_grant_type', 'This grant type is not supported.')
  }
})
