/**
 * /admin/client-metadata-documents: the Client ID Metadata Documents the gateway has used (one row
 * per URL, client-metadata-store.ts), and DELETE to forget one: its row and its KV copy go, so the
 * next use fetches the document again and is audited as a first use. Forgetting blocks nothing.
 */
import * as z from 'zod/mini'
import {
  adminAction,
  adminApp,
  Cursor,
  decodeCursor,
  ERROR_RESPONSES,
  Limit,
  listOf,
  NO_STORE,
  NOT_FOUND,
  named,
  operation,
  page,
  SECURITY,
} from '../admin'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import {
  deleteSeenDocument,
  forgetCachedDocument,
  listSeenDocuments,
  type SeenDocument,
} from './client-metadata-store'

export const adminClientMetadataRoutes = adminApp()
const common = { tags: ['Admin: clients'], security: SECURITY }
const epochSeconds = z.number().check(z.int(), z.describe('Unix time, seconds'))

const SeenDocumentSchema = named(
  'ClientMetadataDocument',
  z.object({
    id: z.string().check(z.describe('The path segment for DELETE')),
    client_id: z.string().check(z.describe("The document's URL, which is the client_id")),
    client_name: z.string().check(z.describe('As the document names itself (its own claim)')),
    redirect_uris: z.array(z.string()),
    first_seen: epochSeconds,
    last_fetched: epochSeconds,
    last_used: epochSeconds,
  }),
)
const DocumentId = z.object({ id: z.string().check(z.regex(/^[0-9a-f]{32}$/)) })

function view(document: SeenDocument) {
  return {
    id: document.id,
    client_id: document.url,
    client_name: document.clientName,
    redirect_uris: document.redirectUris,
    first_seen: document.firstSeen,
    last_fetched: document.lastFetched,
    last_used: document.lastUsed,
  }
}

operation(
  adminClientMetadataRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/client-metadata-documents',
    summary: 'List the Client ID Metadata Documents the gateway has used (clients whose client_id is a URL)',
    query: z.object({ cursor: Cursor, limit: Limit }),
    responses: {
      200: {
        description: 'A page of documents',
        schema: listOf(SeenDocumentSchema, 'ClientMetadataDocumentList'),
      },
      ...ERROR_RESPONSES,
    },
  },
  async (c, { query }) => {
    const rows = await withStorage('list client metadata documents', () =>
      listSeenDocuments(c.env.DB, { after: decodeCursor(query.cursor), limit: query.limit + 1 }),
    )
    const result = page(rows, query.limit, (row) => row.id)
    return c.json({ items: result.items.map(view), next_cursor: result.next_cursor }, 200, NO_STORE)
  },
)

operation(
  adminClientMetadataRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/client-metadata-documents/{id}',
    summary:
      'Forget a document: its next use fetches it again (grants and tokens stay; revoke them separately)',
    params: DocumentId,
    responses: { 204: { description: 'Forgotten' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const admin = adminAction(c)
    const removed = await withStorage('forget client metadata document', () =>
      deleteSeenDocument(c.env.DB, params.id),
    )
    if (!removed) throw new GatewayError('not_found', 'No document has that id.')
    // KV is eventually consistent: other locations may use their copy for up to a minute more.
    await withStorage('forget client metadata document', () => forgetCachedDocument(c.env.KV, params.id))
    admin.audit?.record({
      type: 'client_metadata_forgotten',
      actorId: admin.actorId,
      clientId: removed.url,
    })
    return c.body(null, 204)
  },
)
