/**
 * The account home: GET /auth/account, where a browser that signed in without `return_to` lands
 * (DEFAULT_LANDING_PATH, sessions/return-to.ts), and POST /auth/account/grants/{client_id}/revoke,
 * its form that withdraws an app's access (GET and DELETE /auth/grants are bearer-only JSON, which
 * a page without script cannot call). The browser session only: a page of forms is the session's,
 * and a token, even the user's own, has the JSON endpoints.
 */
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, requireFirstParty } from '../authn'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { revokeGrant } from '../oauth'
import { htmlErrors } from '../pages/html-errors'
import { assertSignedInForm, currentSessionOf, DEFAULT_LANDING_PATH, loginUrl } from '../sessions'
import { renderAccountPage } from './account-home-view'

export const ACCOUNT_PATH = DEFAULT_LANDING_PATH

export const accountHomeRoutes = new Hono<AppBindings>()

accountHomeRoutes.use(ACCOUNT_PATH, htmlErrors())
accountHomeRoutes.use(`${ACCOUNT_PATH}/*`, htmlErrors())

const sessionOnly = [authenticate({ credentials: ['session'] }), requireFirstParty] as const

accountHomeRoutes.get(ACCOUNT_PATH, ...sessionOnly, async function showAccount(c) {
  const principal = currentPrincipal(c)
  // How and when this session signed in, from D1 (the loader's cached record may lack them).
  const session = await currentSessionOf(c)
  // Ended between the loader and here: sign in again, back to this page.
  if (!session || session.userId !== principal.id) {
    c.header('cache-control', 'no-store')
    return c.redirect(loginUrl(ACCOUNT_PATH), 302)
  }
  return renderAccountPage(c, principal, session)
})

accountHomeRoutes.post(
  `${ACCOUNT_PATH}/grants/:client_id/revoke`,
  ...sessionOnly,
  async function revokeGrantFromForm(c) {
    const principal = currentPrincipal(c)
    const { config } = c.var.ctx
    const form = await readForm(c.req.raw)
    const session = await currentSessionOf(c)
    if (!session)
      throw new GatewayError('csrf_failed', 'This form has expired or was sent from another site.')
    await assertSignedInForm(c, session.value, form)
    const clientId = c.req.param('client_id')
    const ended = await revokeGrant(
      { DB: c.env.DB, KV: c.env.KV },
      { userId: principal.id, clientId, clockSkewSeconds: config.settings.clock_skew_seconds },
    )
    if (!ended) throw new GatewayError('not_found', 'No such grant.')
    recordAuditEvent(c.var.ctx, {
      type: 'consent_revoked',
      actorId: principal.id,
      subjectId: principal.id,
      clientId,
    })
    c.header('cache-control', 'no-store')
    return c.redirect(ACCOUNT_PATH, 303)
  },
)
