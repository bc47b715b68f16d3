/**
 * POST /admin/explain in the OpenAPI document. Its handler (src/admin/explain-routes.ts) is a plain Hono
 * route that validates the body with the schema documented here; the answer is the proxy's own
 * stage outcome (src/proxy/explanation.ts), for an admin (token or browser session).
 */
import * as z from 'zod/mini'
import { DELEGATED } from '../config/schema'
import { error, json } from './auth-schemas'
import { SECURITY } from './common'
import { ExplainRequest } from './explain-routes'
import { describeOperation, named } from './openapi'

const strings = z.array(z.string())

/** The answer's documented shape (exported for the test that holds the answer to it). */
export const Explanation = named(
  'Explanation',
  z.object({
    method: z.string(),
    canonical_path: z.optional(z.string()),
    rejected: z.optional(z.object({ error: z.string(), reason: z.string() })),
    route: z.nullable(
      z.object({
        index: z.number().check(z.int()),
        path: z.string(),
        host: z.optional(z.string()),
        match: z.enum(['exact', 'prefix']),
        methods: z.optional(strings),
        upstream: z.string(),
        // Present when the route sends the upstream X-Auth-Assertion and X-Auth-User-Id only.
        identity: z.optional(z.literal('assertion')),
        beat: z.array(z.object({ index: z.number().check(z.int()), path: z.string(), why: z.string() })),
      }),
    ),
    // The matched route's policy as configured (wrangler.toml's route fields, compiled).
    rule: z.nullable(
      z.looseObject({
        access: z.enum(['public', 'authenticated', 'deny']),
        roles: strings,
        scopes: strings,
        credentials: strings,
        // `deny`: tokens issued to apps acting for a user are refused on this route.
        delegated: z.enum(DELEGATED),
        // Step-up (docs/passkeys-and-mfa.md): present only when the route sets them.
        require_mfa: z.optional(z.literal(true)),
        max_auth_age: z.optional(z.number().check(z.int())),
        method_rule: z.boolean(),
      }),
    ),
    principal: z.nullable(
      z.object({
        id: z.string(),
        username: z.string(),
        auth_method: z.string(),
        roles: strings,
        scopes: strings,
        issuer: z.optional(z.string()),
        client_id: z.optional(z.string()),
        delegated: z.optional(z.literal(true)),
        amr: z.optional(strings),
        auth_time: z.optional(z.number().check(z.int())),
      }),
    ),
    decision: z.object({
      allow: z.boolean(),
      status: z.number().check(z.int()),
      error: z.optional(z.string()),
      location: z.optional(z.string()),
    }),
    reason: z.string(),
    gateway_endpoint: z.optional(z.literal(true)),
    note: z.optional(z.string()),
    /** An MCP route: the JSON-RPC message read from `body`, and the `mcp_rules` entry that applied. */
    mcp: z.optional(
      z.object({
        method: z.nullable(z.string()),
        name: z.nullable(z.string()),
        rule: z.nullable(z.object({ roles: z.array(z.string()), scopes: z.array(z.string()) })),
      }),
    ),
  }),
)

export function describeExplainEndpoint(): void {
  describeOperation({
    method: 'post',
    path: '/admin/explain',
    tags: ['Admin: reference'],
    summary: 'What the gateway would do with a request, stage by stage (nothing is forwarded or changed)',
    security: SECURITY,
    body: ExplainRequest,
    responses: {
      200: json(Explanation, 'The canonical path (or why it was rejected), route, rule, principal, decision'),
      400: error('Invalid body, more than 64 headers, or no HTTP request can be formed'),
      401: error('No valid admin access token or session'),
      403: error('Not an admin (`forbidden`), or a token issued to an app (`insufficient_scope`)'),
    },
  })
}
