/**
 * GET /admin/audit: the audit log, newest first, filtered and paged; `format=jsonl` exports the
 * same page as JSON Lines (the next page's cursor in `X-Next-Cursor`); `after=<event id>` lists
 * what came after an event, oldest first (what `npm run admin -- audit --follow` polls).
 */
import * as z from 'zod/mini'
import {
  AuditList,
  AuditQuery,
  adminApp,
  decodeCursor,
  ERROR_RESPONSES,
  NO_STORE,
  operation,
  page,
  SECURITY,
} from '../admin'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import { queryAuditEvents } from './store'

export const adminAuditRoutes = adminApp()

const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** ISO 8601 date-time or Unix seconds, as milliseconds. */
function parseInstant(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value)
  if (!Number.isFinite(ms))
    throw new GatewayError('invalid_request', `${name}: not a date-time or Unix seconds.`)
  return ms
}

function eventId(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined
  if (!EVENT_ID.test(value)) throw new GatewayError('invalid_request', `${name}: not an event id.`)
  return value
}

operation(
  adminAuditRoutes,
  {
    method: 'get',
    path: '/admin/audit',
    tags: ['Admin: audit'],
    security: SECURITY,
    summary: 'Audit events, newest first (or JSON Lines with format=jsonl)',
    query: z.extend(AuditQuery, {
      after: z
        .optional(z.string().check(z.maxLength(36)))
        .check(z.describe('Events after this event id, oldest first')),
    }),
    responses: {
      200: {
        description: 'A page of events',
        schema: AuditList,
        alternatives: { 'application/jsonl': z.string().check(z.describe('One AuditEvent per line')) },
      },
      ...ERROR_RESPONSES,
    },
  },
  async (c, { query }) => {
    const before = eventId(decodeCursor(query.cursor), 'cursor')
    const rows = await withStorage('audit query', () =>
      queryAuditEvents(c.env.DB, {
        type: query.type,
        actorId: query.actor_id,
        subjectId: query.subject_id,
        sinceMs: parseInstant(query.since, 'since'),
        untilMs: parseInstant(query.until, 'until'),
        before,
        after: eventId(query.after, 'after'),
        limit: query.limit + 1,
      }),
    )
    const result = page(rows, query.limit, (event) => event.id)
    if (query.format === 'jsonl') {
      const body = result.items.map((event) => `${JSON.stringify(event)}\n`).join('')
      const headers: Record<string, string> = {
        ...NO_STORE,
        'content-type': 'application/jsonl; charset=utf-8',
      }
      if (result.next_cursor) headers['x-next-cursor'] = result.next_cursor
      return c.body(body, 200, headers)
    }
    return c.json(result, 200, NO_STORE)
  },
)
