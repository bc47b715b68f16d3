/** /admin/users: list, create, read, update (roles, disabled), delete, revoke, sessions, keys. */
import * as z from 'zod/mini'
import {
  ApiKeyList,
  adminAction,
  adminApp,
  CONFLICT,
  CreateUser,
  Cursor,
  decodeCursor,
  ERROR_RESPONSES,
  Limit,
  NO_STORE,
  NOT_FOUND,
  operation,
  page,
  RevokeResult,
  SECURITY,
  SessionList,
  UpdateUser,
  User,
  UserDetail,
  UserId,
  UserList,
  UserQuery,
} from '../admin'
import { pageApiKeys, viewApiKey } from '../api-keys'
import { withStorage } from '../db/errors'
import { deliveryOf, sendPasswordReset } from '../email'
import { GatewayError } from '../errors/gateway-error'
import { factorSummary } from '../second-factor'
import { listSessions } from '../sessions'
import { listUsers } from '../users'
import {
  createUserAsAdmin,
  deleteUserAsAdmin,
  requireUser,
  revokeUserAsAdmin,
  updateUserAsAdmin,
  viewUser,
} from './admin-operations'

export const adminUserRoutes = adminApp()
const common = { tags: ['Admin: users'], security: SECURITY }

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users',
    summary: 'List users (search by username, cursor pagination)',
    query: UserQuery,
    responses: { 200: { description: 'A page of users', schema: UserList }, ...ERROR_RESPONSES },
  },
  async (c, { query }) => {
    const { q, cursor, limit } = query
    const after = decodeCursor(cursor)
    const rows = await withStorage('list users', () => listUsers(c.env.DB, { q, after, limit: limit + 1 }))
    const result = page(rows, limit, (user) => user.username)
    return c.json({ items: result.items.map(viewUser), next_cursor: result.next_cursor }, 200, NO_STORE)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/users',
    summary: 'Create a user',
    body: CreateUser,
    responses: { 201: { description: 'The new user', schema: User }, ...ERROR_RESPONSES, ...CONFLICT },
  },
  async (c, { body }) => c.json(viewUser(await createUserAsAdmin(adminAction(c), body)), 201, NO_STORE),
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}',
    summary: 'Read a user, with which second factors they have (never a secret)',
    params: UserId,
    responses: {
      200: { description: 'The user and their second factors', schema: UserDetail },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    return c.json({ ...viewUser(user), factors: await factorSummary(c.env.DB, user) }, 200, NO_STORE)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'patch',
    path: '/admin/users/{id}',
    summary: 'Change roles, disable or enable, set the email address',
    description:
      'Disabling ends every session and token of the user at once and suspends its API keys (they work again after enabling), like `npm run admin -- disable`.',
    params: UserId,
    body: UpdateUser,
    responses: {
      200: { description: 'The user after the change', schema: User },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params, body }) =>
    c.json(viewUser(await updateUserAsAdmin(adminAction(c), params.id, body)), 200, NO_STORE),
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/users/{id}',
    summary: 'Delete a user (ends every session, token and API key first)',
    params: UserId,
    responses: { 204: { description: 'Deleted' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    await deleteUserAsAdmin(adminAction(c), params.id)
    return c.body(null, 204)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/users/{id}/password-reset',
    summary: "Mail the user a password reset link (to the user's address)",
    description:
      'The link works once, for `email.link_ttl_seconds` (≤ 30 minutes); it replaces any earlier one. Nothing changes until the user sets a password through it.',
    params: UserId,
    responses: {
      202: { description: 'The mail is on its way' },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
      // `conflict`: the user has no email address.
      ...CONFLICT,
    },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    const to = user.email
    if (!to) throw new GatewayError('conflict', 'The user has no email address.')
    const delivery = deliveryOf(c)
    await withStorage('email token', () => sendPasswordReset(delivery, user, to))
    adminAction(c).audit?.record({
      type: 'password_reset_requested',
      actorId: adminAction(c).actorId,
      subjectId: user.id,
      details: { via: 'admin_api' },
    })
    return c.body(null, 202)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/users/{id}/revoke',
    summary: 'End every token, session and API key of a user (without disabling)',
    params: UserId,
    responses: {
      200: { description: 'What was ended', schema: RevokeResult },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const result = await revokeUserAsAdmin(adminAction(c), params.id)
    const body = {
      user_id: params.id,
      not_before: new Date(result.notBeforeMs).toISOString(),
      api_keys_revoked: result.apiKeysRevoked,
    }
    return c.json(body, 200, NO_STORE)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}/sessions',
    summary: "A user's live browser sessions",
    params: UserId,
    responses: {
      200: { description: 'Live sessions, newest first', schema: SessionList },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    const items = await listSessions(c.env, c.var.ctx.config.settings, user.id)
    return c.json({ items, next_cursor: null }, 200, NO_STORE)
  },
)

operation(
  adminUserRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}/api-keys',
    summary: "A user's API keys (never the key itself)",
    params: UserId,
    query: z.object({ cursor: Cursor, limit: Limit }),
    responses: {
      200: { description: 'A page of keys', schema: ApiKeyList },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params, query }) => {
    const user = await requireUser(c.env.DB, params.id)
    const rows = await withStorage('list api keys', () =>
      pageApiKeys(c.env.DB, { userId: user.id, after: decodeCursor(query.cursor), limit: query.limit + 1 }),
    )
    const result = page(rows, query.limit, (key) => key.id)
    const items = result.items.map((key) => ({ ...viewApiKey(key), user_id: key.userId }))
    return c.json({ items, next_cursor: result.next_cursor }, 200, NO_STORE)
  },
)
