/**
 * The admin API, its OpenAPI document and its pages, all under /admin and all for role admin
 * (src/routes/admin/common.ts says which credentials). The document covers /admin (from the
 * declarations that also validate the requests) and /auth (auth-doc*.ts), and is served to admins
 * only: it maps every operation an attacker would probe, and nothing but operators needs it.
 */
import * as z from 'zod/mini'
import { type DocOperation, DocsPage } from '../../pages/docs-page'
import { renderPage } from '../../pages/render'
import { explainRoutes } from '../explain'
import { htmlErrors } from '../pages'
import { adminApiKeyRoutes } from './api-keys'
import { adminAuditRoutes } from './audit'
import { registerAuthEndpoints } from './auth-doc'
import { registerAuthorizationEndpoints } from './auth-doc-authorization'
import { registerIdentityEndpoints } from './auth-doc-identities'
import { adminClientRoutes } from './clients'
import { adminApp, ERROR_RESPONSES, requireAdmin, SECURITY } from './common'
import { registerExplainEndpoint } from './explain-doc'
import { buildOpenApiDocument, type OpenApiDocument, operation } from './openapi'
import { adminPageRoutes } from './page'
import { adminUserLinkRoutes } from './user-links'
import { adminUserRoutes } from './users'

export const adminRoutes = adminApp()

adminRoutes.use('/admin/*', htmlErrors(), ...requireAdmin)

adminRoutes.route('/', adminUserRoutes)
adminRoutes.route('/', adminUserLinkRoutes)
adminRoutes.route('/', adminClientRoutes)
adminRoutes.route('/', adminApiKeyRoutes)
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
 * of src/routes/explain.ts mounted here) are only documentation, so their schemas are created here
 * rather than at isolate start, which every proxied request's cold start would pay for.
 */
export function openApiDocument(): OpenApiDocument {
  if (document) return document
  if (!described) {
    described = true
    registerAuthEndpoints()
    registerAuthorizationEndpoints()
    registerIdentityEndpoints()
    registerExplainEndpoint()
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
