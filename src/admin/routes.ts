/**
 * The admin API, its OpenAPI document and its pages, all under /admin and all for role admin
 * (common.ts says which credentials). The document covers /admin (from the
 * declarations that also validate the requests) and /auth (auth-doc*.ts), and is served to admins
 * only: it maps every operation an attacker would probe, and nothing but operators needs it.
 */
import * as z from 'zod/mini'
import { adminUserRoutes } from '../accounts/admin-routes'
import { describeAccountEndpoints } from '../accounts/openapi-doc'
import { adminApiKeyRoutes } from '../api-keys/admin-routes'
import { describeApiKeyEndpoints } from '../api-keys/openapi-doc'
import { adminAuditRoutes } from '../audit/admin-routes'
import { describeEmailEndpoints } from '../email/openapi-doc'
import { adminUserLinkRoutes } from '../login-providers/admin-routes'
import { describeIdentityEndpoints } from '../login-providers/openapi-doc'
import { adminClientRoutes } from '../oauth/admin-routes'
import { describeAuthorizationEndpoints } from '../oauth/authorization-doc'
import { adminClientMetadataRoutes } from '../oauth/client-metadata-admin-routes'
import { describeRegistrationEndpoint } from '../oauth/registration-doc'
import { describeTokenEndpoint } from '../oauth/token-doc'
import { htmlErrors } from '../pages/html-errors'
import { renderPage } from '../pages/render'
import { adminPasskeyRoutes } from '../passkeys/admin-routes'
import { describePasskeyEndpoints } from '../passkeys/openapi-doc'
import { describeRevocationEndpoints } from '../revocation/openapi-doc'
import { adminSecondFactorRoutes } from '../second-factor/admin-routes'
import { describeSecondFactorEndpoints } from '../second-factor/openapi-doc'
import { describeBrowserEndpoints } from '../sessions/openapi-doc'
import { adminApp, ERROR_RESPONSES, requireAdmin, SECURITY } from './common'
import { type DocOperation, DocsPage } from './docs-page'
import { describeExplainEndpoint } from './explain-doc'
import { explainRoutes } from './explain-routes'
import { buildOpenApiDocument, type OpenApiDocument, operation } from './openapi'
import { adminPageRoutes } from './page-routes'

export const adminRoutes = adminApp()

adminRoutes.use('/admin/*', htmlErrors(), ...requireAdmin)

adminRoutes.route('/', adminUserRoutes)
adminRoutes.route('/', adminUserLinkRoutes)
adminRoutes.route('/', adminPasskeyRoutes)
adminRoutes.route('/', adminClientRoutes)
adminRoutes.route('/', adminClientMetadataRoutes)
adminRoutes.route('/', adminApiKeyRoutes)
adminRoutes.route('/', adminSecondFactorRoutes)
adminRoutes.route('/', adminAuditRoutes)
adminRoutes.route('/', adminPageRoutes)
adminRoutes.route('/', explainRoutes)

const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'gw_session',
    description: '`__Host-gw_session` when ISSUER is https; unsafe methods need a same-origin request',
  },
  apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
  clientBasic: { type: 'http', scheme: 'basic' },
}

let document: OpenApiDocument | undefined
let described = false

/**
 * Built once per isolate, on the first request for it: the declarations do not change while it
 * runs. The descriptions of the plain Hono routes (/auth, and POST /admin/explain, a plain route
 * of src/admin/explain-routes.ts mounted here) are only documentation, so their schemas are created here
 * rather than at isolate start, which every proxied request's cold start would pay for.
 */
export function openApiDocument(): OpenApiDocument {
  if (document) return document
  if (!described) {
    described = true
    // Each room declares its /auth endpoints beside their routes (its *-doc.ts).
    describeBrowserEndpoints()
    describeEmailEndpoints()
    describeTokenEndpoint()
    describeAccountEndpoints()
    describeRevocationEndpoints()
    describeApiKeyEndpoints()
    describeAuthorizationEndpoints()
    describeRegistrationEndpoint()
    describeIdentityEndpoints()
    describeSecondFactorEndpoints()
    describePasskeyEndpoints()
    describeExplainEndpoint()
  }
  document = buildOpenApiDocument(
    {
      title: 'Edge auth gateway: auth and admin API',
      version: '1',
      description: 'Every error has the gateway shape `{error, error_description, request_id}`.',
    },
    SECURITY_SCHEMES,
  )
  return document
}

const reference = { tags: ['Admin: reference'], security: SECURITY }

operation(
  adminRoutes,
  {
    ...reference,
    method: 'get',
    path: '/admin/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    responses: {
      200: { description: 'The document', schema: z.looseObject({ openapi: z.literal('3.1.0') }) },
      ...ERROR_RESPONSES,
    },
  },
  (c) => c.json(openApiDocument(), 200, { 'cache-control': 'no-store' }),
)

function operationsOf(doc: OpenApiDocument): DocOperation[] {
  const out: DocOperation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      out.push({
        method,
        path,
        summary: operation.summary,
        tag: operation.tags[0] ?? 'Other',
        statuses: Object.keys(operation.responses),
      })
    }
  }
  return out.sort((a, b) => a.tag.localeCompare(b.tag) || a.path.localeCompare(b.path))
}

operation(
  adminRoutes,
  {
    ...reference,
    method: 'get',
    path: '/admin/docs',
    summary: 'The API reference as an HTML page',
    responses: {
      200: { description: 'The page', schema: z.string(), contentType: 'text/html' },
      ...ERROR_RESPONSES,
    },
  },
  (c) => {
    const doc = openApiDocument()
    const page = DocsPage({
      productName: c.var.ctx.config.settings.product_name,
      title: doc.info.title,
      version: doc.info.version,
      operations: operationsOf(doc),
    })
    return renderPage(c, page)
  },
)
