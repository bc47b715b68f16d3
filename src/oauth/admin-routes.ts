/** /admin/clients: list, create (secret shown once), change trust, rotate the secret, delete. */
import * as z from 'zod/mini'
import {
  adminAction,
  adminApp,
  Client,
  ClientId,
  ClientList,
  ClientSecret,
  CONFLICT,
  CreateClient,
  CreatedClient,
  Cursor,
  decodeCursor,
  ERROR_RESPONSES,
  Limit,
  NO_STORE,
  NOT_FOUND,
  operation,
  page,
  SECURITY,
  UpdateClient,
} from '../admin'
import { withStorage } from '../db/errors'
import {
  createClientAsAdmin,
  deleteClientAsAdmin,
  rotateClientSecret,
  updateClientAsAdmin,
  viewClient,
} from './client-admin'
import { listClients } from './client-store'

export const adminClientRoutes = adminApp()
const common = { tags: ['Admin: clients'], security: SECURITY }

operation(
  adminClientRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/clients',
    summary: 'List OAuth clients (never a secret)',
    query: z.object({ cursor: Cursor, limit: Limit }),
    responses: { 200: { description: 'A page of clients', schema: ClientList }, ...ERROR_RESPONSES },
  },
  async (c, { query }) => {
    const rows = await withStorage('list clients', () =>
      listClients(c.env.DB, { after: decodeCursor(query.cursor), limit: query.limit + 1 }),
    )
    const result = page(rows, query.limit, (client) => client.clientId)
    return c.json({ items: result.items.map(viewClient), next_cursor: result.next_cursor }, 200, NO_STORE)
  },
)

operation(
  adminClientRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/clients',
    summary: 'Create a client; a confidential client gets a secret, shown only in this response',
    body: CreateClient,
    responses: {
      201: { description: 'The new client', schema: CreatedClient },
      ...ERROR_RESPONSES,
      ...CONFLICT,
    },
  },
  async (c, { body }) => c.json(await createClientAsAdmin(adminAction(c), body), 201, NO_STORE),
)

operation(
  adminClientRoutes,
  {
    ...common,
    method: 'patch',
    path: '/admin/clients/{id}',
    summary:
      "Change a client's trust: first_party, skip_consent, allowed_roles, allowed_origins, disabled (from its next authorization or refresh)",
    params: ClientId,
    body: UpdateClient,
    responses: {
      200: { description: 'The client as it is now', schema: Client },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params, body }) =>
    c.json(await updateClientAsAdmin(adminAction(c), params.id, body), 200, NO_STORE),
)

operation(
  adminClientRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/clients/{id}',
    summary: 'Delete a client (its own access tokens are void at once)',
    params: ClientId,
    responses: { 204: { description: 'Deleted' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    await deleteClientAsAdmin(adminAction(c), params.id)
    return c.body(null, 204)
  },
)

operation(
  adminClientRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/clients/{id}/secret',
    summary: "Rotate a confidential client's secret (the old one stops working at once)",
    params: ClientId,
    responses: {
      200: { description: 'The new secret, shown only here', schema: ClientSecret },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => c.json(await rotateClientSecret(adminAction(c), params.id), 200, NO_STORE),
)
