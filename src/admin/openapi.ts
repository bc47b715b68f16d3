/**
 * A small OpenAPI 3.1 layer on zod 4: an operation is declared once (method, path, zod schemas for
 * path, query, body and responses), `operation()` mounts a handler that validates the request with
 * those schemas, and `openApiDocument()` turns the same declarations into the document with zod's
 * own `z.toJSONSchema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1). @hono/zod-openapi does
 * the same, but it pulls zod's full namespace (every locale) into the Worker: +90 KiB gzipped,
 * past the bundle budget. Schemas are `zod/mini` (see config/zod-locale.ts). Plain Hono routes
 * (/auth) are described with `describeOperation`.
 */
import type { Context, Hono } from 'hono'
import * as z from 'zod/mini'
import '../config/zod-locale'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'

type Method = 'get' | 'post' | 'patch' | 'delete'
type Security = Record<string, string[]>[]
type AnyObject = z.ZodMiniObject

export interface ResponseSpec {
  description: string
  schema?: z.ZodMiniType
  /** Default `application/json` when there is a schema. */
  contentType?: string
  /** Alternative bodies by media type (e.g. JSON Lines). */
  alternatives?: Record<string, z.ZodMiniType>
}

export interface OperationSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodMiniType> {
  method: Method
  /** OpenAPI style: `/admin/users/{id}`. */
  path: string
  tags: string[]
  summary: string
  description?: string
  security?: Security
  params?: P
  query?: Q
  body?: B
  /** Media types the body may come in (default JSON). */
  bodyTypes?: string[]
  responses: Record<number, ResponseSpec>
}

type AnySpec = OperationSpec<AnyObject, AnyObject, z.ZodMiniType>
const operations: AnySpec[] = []
const names = new WeakMap<z.ZodMiniType, string>()

/** Gives a schema a name: it becomes `#/components/schemas/<name>` where used as a whole body. */
export function named<T extends z.ZodMiniType>(name: string, schema: T): T {
  names.set(schema, name)
  return schema
}

/** The first problem zod found, as `field: message` (never the submitted value). */
function describeIssue(error: z.core.$ZodError): string {
  const issue = error.issues[0]
  if (!issue) return 'The request is invalid.'
  const path = issue.path.map(String).join('.')
  return `${path ? `${path}: ` : ''}${issue.message}`.slice(0, 300)
}

function parse<T extends z.ZodMiniType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value)
  if (!result.success) throw new GatewayError('invalid_request', `${where} ${describeIssue(result.error)}`)
  return result.data
}

function queryObject(c: Context<AppBindings>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [key, values] of Object.entries(c.req.queries()))
    out[key] = values.length === 1 ? (values[0] as string) : values
  return out
}

export interface OperationInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodMiniType> {
  params: z.output<P>
  query: z.output<Q>
  body: z.output<B>
}

/** Declares an operation and mounts its validating handler on `app`. */
export function operation<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodMiniType = z.ZodMiniType,
>(
  app: Hono<AppBindings>,
  spec: OperationSpec<P, Q, B>,
  handler: (c: Context<AppBindings>, input: OperationInput<P, Q, B>) => Response | Promise<Response>,
): void {
  operations.push(spec as unknown as AnySpec)
  const honoPath = spec.path.replace(/\{(\w+)\}/g, ':$1')
  app.on(spec.method.toUpperCase(), honoPath, async function validated(c) {
    const params = spec.params ? parse(spec.params, c.req.param(), 'path:') : {}
    const query = spec.query ? parse(spec.query, queryObject(c), 'query:') : {}
    const body = spec.body ? parse(spec.body, await readFields(c.req.raw), 'body:') : undefined
    return handler(c, { params, query, body } as OperationInput<P, Q, B>)
  })
}

/** Documents an operation whose handler is a plain Hono route. */
export function describeOperation(spec: OperationSpec<AnyObject, AnyObject, z.ZodMiniType>): void {
  operations.push(spec)
}

function jsonSchema(schema: z.ZodMiniType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
  return rest
}

function schemaRef(
  schema: z.ZodMiniType,
  io: 'input' | 'output',
  components: Record<string, unknown>,
): Record<string, unknown> {
  const name = names.get(schema)
  if (!name) return jsonSchema(schema, io)
  components[name] ??= jsonSchema(schema, io)
  return { $ref: `#/components/schemas/${name}` }
}

function parameters(schema: AnyObject | undefined, location: 'path' | 'query') {
  if (!schema) return []
  return Object.entries(schema.shape).map(([name, field]) => {
    const described = jsonSchema(field as z.ZodMiniType, 'input')
    const { description, ...rest } = described
    return {
      name,
      in: location,
      // Optional or defaulted fields accept "absent".
      required: location === 'path' || !(field as z.ZodMiniType).safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    }
  })
}

function operationObject(spec: AnySpec, components: Record<string, unknown>) {
  const responses: Record<string, unknown> = {}
  for (const [status, response] of Object.entries(spec.responses)) {
    const content: Record<string, unknown> = {}
    if (response.schema)
      content[response.contentType ?? 'application/json'] = {
        schema: schemaRef(response.schema, 'output', components),
      }
    for (const [type, schema] of Object.entries(response.alternatives ?? {}))
      content[type] = { schema: jsonSchema(schema, 'output') }
    responses[status] = { description: response.description, ...(response.schema ? { content } : {}) }
  }
  const body = spec.body
  return {
    operationId: `${spec.method}${spec.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    tags: spec.tags,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.security ? { security: spec.security } : {}),
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(body
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              (spec.bodyTypes ?? ['application/json']).map((type) => [
                type,
                { schema: schemaRef(body, 'input', components) },
              ]),
            ),
          },
        }
      : {}),
    responses,
  }
}

export interface DocumentInfo {
  title: string
  version: string
  description?: string
}

export type OpenApiDocument = {
  openapi: '3.1.0'
  info: DocumentInfo
  paths: Record<string, Record<string, ReturnType<typeof operationObject>>>
  components: Record<string, unknown>
}

/** The OpenAPI 3.1 document of every declared operation. */
export function buildOpenApiDocument(
  info: DocumentInfo,
  securitySchemes: Record<string, unknown>,
): OpenApiDocument {
  const schemas: Record<string, unknown> = {}
  const paths: OpenApiDocument['paths'] = {}
  for (const spec of operations) {
    paths[spec.path] ??= {}
    ;(paths[spec.path] as Record<string, unknown>)[spec.method] = operationObject(spec, schemas)
  }
  return { openapi: '3.1.0', info, paths, components: { schemas, securitySchemes } }
}
