/**
 * /admin/users/{id}/identities and /admin/users/{id}/grants: the external sign-ins linked to a
 * user and the apps the user has consented to, so an operator can see (and withdraw) how an
 * account is reached without D1 access. Withdrawing a grant also ends that app's sessions for the
 * user, exactly as the user's own DELETE /auth/grants/{client_id} does.
 */
import * as z from 'zod/mini'
import { requireUser } from '../accounts'
import {
  adminAction,
  adminApp,
  CLIENT_ID,
  ERROR_RESPONSES,
  epochSeconds,
  listOf,
  NO_STORE,
  NOT_FOUND,
  named,
  operation,
  SECURITY,
  UserId,
} from '../admin'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import { listGrants, revokeGrant } from '../oauth'
import { listUserIdentities } from './identity-store'

export const adminUserLinkRoutes = adminApp()

const common = { tags: ['Admin: users'], security: SECURITY }

const Identity = named(
  'Identity',
  z.object({
    provider: z.string(),
    subject: z.string(),
    email: z.nullable(z.string()),
    display: z.string(),
    created_at: epochSeconds,
    last_login_at: z.nullable(epochSeconds),
  }),
)
const IdentityList = listOf(Identity, 'IdentityList')

const Grant = named(
  'Grant',
  z.object({
    client_id: z.string(),
    client_name: z.nullable(z.string()),
    scopes: z.array(z.string()),
    roles: z.array(z.string()),
    created_at: epochSeconds,
    updated_at: epochSeconds,
  }),
)
const GrantList = listOf(Grant, 'GrantList')

operation(
  adminUserLinkRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}/identities',
    summary: "A user's linked external sign-ins (provider and subject; no provider tokens are stored)",
    params: UserId,
    responses: {
      200: { description: 'Linked identities', schema: IdentityList },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    const rows = await withStorage('list identities', () => listUserIdentities(c.env.DB, user.id))
    const items = rows.map((row) => ({
      provider: row.provider,
      subject: row.subject,
      email: row.email,
      display: row.display,
      created_at: row.created_at,
      last_login_at: row.last_login_at,
    }))
    return c.json({ items, next_cursor: null }, 200, NO_STORE)
  },
)

operation(
  adminUserLinkRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}/grants',
    summary: 'The apps a user has consented to (authorization code flow), with the scopes granted',
    params: UserId,
    responses: {
      200: { description: 'Consent grants', schema: GrantList },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    const grants = await listGrants(c.env.DB, user.id)
    const items = grants.map((grant) => ({
      client_id: grant.clientId,
      client_name: grant.clientName ?? null,
      scopes: grant.scopes,
      roles: grant.roles,
      created_at: grant.createdAt,
      updated_at: grant.updatedAt,
    }))
    return c.json({ items, next_cursor: null }, 200, NO_STORE)
  },
)

operation(
  adminUserLinkRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/users/{id}/grants/{client_id}',
    summary: "Withdraw a user's consent to an app and end that app's sessions for the user",
    params: z.extend(UserId, { client_id: z.string().check(z.regex(CLIENT_ID)) }),
    responses: { 204: { description: 'Withdrawn' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const action = adminAction(c)
    const user = await requireUser(c.env.DB, params.id)
    const ended = await revokeGrant(c.env, {
      userId: user.id,
      clientId: params.client_id,
      clockSkewSeconds: c.var.ctx.config.settings.clock_skew_seconds,
    })
    if (!ended) throw new GatewayError('not_found', 'That user has no grant or session for that client.')
    action.audit?.record({
      type: 'consent_revoked',
      actorId: action.actorId,
      subjectId: user.id,
      clientId: params.client_id,
      details: { by: 'admin' },
    })
    return c.body(null, 204)
  },
)
