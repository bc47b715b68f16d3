import { Hono } from 'hono'
import * as z from 'zod/mini'
import '../config/zod-locale'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { decideRequest, explainOutcome, judgeMcpRequest } from '../proxy'
import { METHOD_TOKEN } from '../routing/methods'
import { RESERVED_SEGMENTS } from '../routing/reserved-segments'
import { loginRedirectFor } from '../sessions'

/**
 * `POST /admin/explain` (admin): what the gateway would do with a request, stage by stage, without
 * forwarding it or changing any state. It runs the proxy's own stages (proxy/stages.ts) with
 * `observeOnly`: no API-key last-used or session last-seen write, no throttle count (Basic is never
 * checked), no audit. A JWKS fetch for an external issuer may fill the key cache, as any request would.
 */
// Mounted inside the admin app (admin/routes.ts), whose /admin/* guard (role admin, by bearer
// token or browser session, revocation checked in D1) runs before it: no guard of its own.
export const explainRoutes = new Hono<AppBindings>()

const MAX_HEADERS = 64

const explainRequest = z.strictObject({
  method: z.string().check(z.regex(METHOD_TOKEN, 'must be an HTTP method token')),
  path: z.string().check(z.startsWith('/', 'must start with "/"'), z.maxLength(8192)),
  headers: z._default(z.record(z.string(), z.string()), {}),
  /** The request body: an MCP route judges its JSON-RPC message (method, tool) as the proxy does. */
  body: z.optional(z.string().check(z.maxLength(8192))),
})

// The gateway's own endpoints answer before the proxy, in their lowercase spelling (other spellings
// get the route table's 404, which the explanation shows): explain says so rather than pretend a route.
function gatewayEndpoint(path: string): boolean {
  return RESERVED_SEGMENTS.includes(path.split(/[/?#]/, 2)[1] ?? '')
}

function invalid(message: string): GatewayError {
  return new GatewayError('invalid_request', message)
}

explainRoutes.post('/admin/explain', async function explain(c) {
  const parsed = explainRequest.safeParse(await readFields(c.req.raw))
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw invalid(`Field "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}.`)
  }
  const { method, path, headers, body } = parsed.data
  if (Object.keys(headers).length > MAX_HEADERS) throw invalid(`At most ${MAX_HEADERS} headers.`)
  const { config } = c.var.ctx
  const origin = new URL(config.issuer)
  const host = headers.host ?? headers.Host ?? origin.host
  let request: Request
  try {
    // The same URL parsing the runtime applies to a request line before the gateway sees it.
    const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD'
    request = new Request(`${origin.protocol}//${host}${path}`, {
      method,
      headers,
      ...(withBody ? { body } : {}),
    })
  } catch {
    throw invalid('The method, path or headers cannot form an HTTP request.')
  }
  let outcome = await decideRequest(
    {
      request,
      env: c.env,
      config,
      observeOnly: true,
      waitUntil: (promise) => {
        promise.catch(() => undefined)
      },
    },
    (request, route, error) => loginRedirectFor(request, route.credentials, error, config.issuer),
  )
  // An MCP route: the message is read and its rule applied, exactly as the proxy would.
  const mcp = outcome.route?.resource ? await judgeMcpRequest(request, outcome, config) : undefined
  if (mcp) outcome = mcp.outcome
  const explanation = {
    ...explainOutcome(method, outcome, config),
    ...(mcp
      ? {
          mcp: {
            method: mcp.message?.method ?? null,
            name: mcp.message?.name ?? null,
            rule: mcp.rule ? { roles: mcp.rule.roles, scopes: mcp.rule.scopes } : null,
          },
        }
      : {}),
  }
  return c.json(
    gatewayEndpoint(path)
      ? {
          ...explanation,
          gateway_endpoint: true,
          note: 'The gateway serves this path itself; routes do not apply.',
        }
      : explanation,
    200,
    { 'cache-control': 'no-store' },
  )
})

// The OpenAPI document describes the request body with this same schema (admin/explain-doc.ts).
export { explainRequest as ExplainRequest }
