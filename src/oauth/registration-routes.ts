/**
 * POST /auth/clients, RFC 7591 dynamic client registration (client-registration.ts decides what a
 * registrant may have). Open to anyone, without credentials: turned off by
 * SETTINGS.dynamic_client_registration, throttled per client address before the body is read.
 */
import { type Context, Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import type { AppBindings } from '../env'
import { GatewayError, isGatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { limitRequest } from '../rate-limit'
import { reserveClientRegistration } from '../users'
import { parseClientMetadata, registerClient } from './client-registration'
import { registrationCors } from './cors'

export const registrationRoutes = new Hono<AppBindings>()

registrationRoutes.use('/auth/clients', registrationCors())

/**
 * Refused before any storage is touched when off; else the per-address rate-limit binding, then
 * one D1 throttle slot per attempt, or 429.
 */
async function admitRegistration(c: Context<AppBindings>): Promise<void> {
  const { settings } = c.var.ctx.config
  if (!settings.dynamic_client_registration)
    throw new GatewayError('registration_disabled', 'Dynamic client registration is turned off.')
  // Cloudflare always sets it; a request without one did not come through Cloudflare (as for /auth/register).
  const ip = c.req.header('cf-connecting-ip')
  if (!ip) return
  await limitRequest(c.env, { kind: 'registration', ip, client: true })
  try {
    await reserveClientRegistration(c.env.DB, settings.dynamic_clients.per_ip_per_hour, ip)
  } catch (error) {
    if (isGatewayError(error) && error.code === 'rate_limited')
      recordAuditEvent(c.var.ctx, {
        type: 'throttled',
        outcome: 'failure',
        details: { via: 'client_registration' },
      })
    throw error
  }
}

/** RFC 7591 §3.1: the metadata is a JSON object; malformed JSON is invalid metadata (§3.2.2). */
async function readMetadata(request: Request): Promise<Record<string, unknown>> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json')
    throw new GatewayError('invalid_client_metadata', 'The body must be application/json (RFC 7591 §3.1).')
  try {
    return await readFields(request)
  } catch (error) {
    if (isGatewayError(error) && error.code === 'invalid_request')
      throw new GatewayError('invalid_client_metadata', error.message)
    throw error
  }
}

registrationRoutes.post('/auth/clients', async function registerDynamicClient(c) {
  await admitRegistration(c)
  const metadata = parseClientMetadata(await readMetadata(c.req.raw), c.var.ctx.config.settings)
  const registered = await registerClient(c.env.DB, metadata, c.var.ctx.audit)
  // RFC 7591 §3.2.1 answers 201; the body may hold a secret, so nothing may cache it.
  return c.json(registered, 201, { 'cache-control': 'no-store', pragma: 'no-cache' })
})
