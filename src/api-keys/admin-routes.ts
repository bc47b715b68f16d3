/** /admin/api-keys: every user's keys (never the key itself) and revocation. */
import { requireUser } from '../accounts'
import {
  ApiKeyId,
  ApiKeyList,
  ApiKeyQuery,
  adminAction,
  adminApp,
  CreateApiKey,
  CreatedApiKey,
  decodeCursor,
  ERROR_RESPONSES,
  NO_STORE,
  NOT_FOUND,
  operation,
  page,
  SECURITY,
  UserId,
} from '../admin'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import { createApiKey, revokeApiKey, viewApiKey } from './service'
import { pageApiKeys } from './store'

export const adminApiKeyRoutes = adminApp()
const common = { tags: ['Admin: API keys'], security: SECURITY }

operation(
  adminApiKeyRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/api-keys',
    summary: 'List API keys, of every user or one (`user_id`)',
    query: ApiKeyQuery,
    responses: { 200: { description: 'A page of keys', schema: ApiKeyList }, ...ERROR_RESPONSES },
  },
  async (c, { query }) => {
    const rows = await withStorage('list api keys', () =>
      pageApiKeys(c.env.DB, {
        userId: query.user_id,
        after: decodeCursor(query.cursor),
        limit: query.limit + 1,
      }),
    )
    const result = page(rows, query.limit, (key) => key.id)
    const items = result.items.map((key) => ({ ...viewApiKey(key), user_id: key.userId }))
    return c.json({ items, next_cursor: result.next_cursor }, 200, NO_STORE)
  },
)

operation(
  adminApiKeyRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/api-keys/{id}',
    summary: 'Revoke an API key (refused at once in this location; elsewhere within KV propagation)',
    params: ApiKeyId,
    responses: { 204: { description: 'Revoked' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const action = adminAction(c)
    const revoked = await revokeApiKey(c.env, params.id)
    if (!revoked) throw new GatewayError('not_found', 'No active API key has that id.')
    action.audit?.record({
      type: 'api_key_revoked',
      actorId: action.actorId,
      subjectId: revoked.userId,
      details: { key_id: params.id, by: 'admin' },
    })
    return c.body(null, 204)
  },
)

operation(
  adminApiKeyRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/users/{id}/api-keys',
    summary: 'Create an API key for a user (the key is shown only in this response)',
    description:
      "What `npm run admin -- create-api-key` does: the key's roles and scopes never exceed the user's.",
    params: UserId,
    body: CreateApiKey,
    responses: {
      201: { description: 'The new key', schema: CreatedApiKey },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params, body }) => {
    const action = adminAction(c)
    const user = await requireUser(c.env.DB, params.id)
    if (user.disabled) throw new GatewayError('invalid_request', 'The user is disabled.')
    const created = await createApiKey(c.env.DB, c.var.ctx.config, {
      owner: { id: user.id, roles: user.roles },
      name: body.name,
      scopes: body.scopes,
      roles: body.roles,
      expiresIn: body.expires_in,
    })
    action.audit?.record({
      type: 'api_key_created',
      actorId: action.actorId,
      subjectId: user.id,
      details: { key_id: created.id, name: created.name, scopes: created.scopes, by: 'admin' },
    })
    return c.json({ ...created, user_id: user.id }, 201, NO_STORE)
  },
)
