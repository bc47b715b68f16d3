/**
 * GET /admin, the admin page, and its form actions (POST /admin/page/users/{id}/disable | enable |
 * revoke, answered with 303 back to the page). Behind the browser session with role admin like the
 * API; the forms are same-origin posts, which the session's CSRF guard requires.
 */
import * as z from 'zod/mini'
import { revokeUserAsAdmin, updateUserAsAdmin } from '../accounts'
import { queryAuditEvents } from '../audit'
import { currentPrincipal } from '../authn'
import { withStorage } from '../db/errors'
import { renderPage } from '../pages/render'
import { listUsers } from '../users'
import { AdminPage } from './admin-page'
import { adminAction, adminApp, ERROR_RESPONSES, NOT_FOUND, SECURITY } from './common'
import { operation } from './openapi'
import { UserId } from './schemas'

export const adminPageRoutes = adminApp()
const common = { tags: ['Admin: page'], security: SECURITY }
const USERS_SHOWN = 100
const EVENTS_SHOWN = 30

operation(
  adminPageRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin',
    summary: 'The admin page (HTML): users with their status, recent audit events',
    query: z.object({ q: z.optional(z.string().check(z.maxLength(64))) }),
    responses: {
      200: { description: 'The page', schema: z.string(), contentType: 'text/html' },
      302: { description: 'A browser without a session: to the login page' },
      ...ERROR_RESPONSES,
    },
  },
  async (c, { query }) => {
    const q = query.q || undefined
    const [users, events] = await withStorage('admin page', () =>
      Promise.all([
        listUsers(c.env.DB, { q, limit: USERS_SHOWN }),
        queryAuditEvents(c.env.DB, { limit: EVENTS_SHOWN }),
      ]),
    )
    const page = AdminPage({
      productName: c.var.ctx.config.settings.product_name,
      adminName: currentPrincipal(c).username,
      users,
      events,
      q,
    })
    return renderPage(c, page)
  },
)

operation(
  adminPageRoutes,
  {
    ...common,
    method: 'post',
    path: '/admin/page/users/{id}/{action}',
    summary: "The admin page's form actions: disable, enable or revoke a user (303 back to /admin)",
    params: z.extend(UserId, { action: z.enum(['disable', 'enable', 'revoke']) }),
    responses: { 303: { description: 'Done: back to the admin page' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const admin = adminAction(c)
    if (params.action === 'revoke') await revokeUserAsAdmin(admin, params.id)
    else await updateUserAsAdmin(admin, params.id, { disabled: params.action === 'disable' })
    c.header('cache-control', 'no-store')
    return c.redirect('/admin', 303)
  },
)
