/**
 * The account home: GET /auth/account, where a browser that signed in without `return_to` lands
 * (DEFAULT_LANDING_PATH, sessions/return-to.ts), and POST /auth/account/grants/{client_id}/revoke,
 * its form that withdraws an app's access (GET and DELETE /auth/grants are bearer-only JSON, which
 * a page without script cannot call). The browser session only: a page of forms is the session's,
 * and a token, even the user's own, has the JSON endpoints.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { listOwnApiKeys } from '../api-keys'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, type Principal, requireFirstParty } from '../authn'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readForm } from '../http/form'
import { listGrants, revokeGrant } from '../oauth'
import { htmlErrors } from '../pages/html-errors'
import { renderPage } from '../pages/render'
import {
  type CurrentSession,
  csrfTokenFor,
  currentSessionOf,
  DEFAULT_LANDING_PATH,
  loginUrl,
  signedInFormAllowed,
} from '../sessions'
import { AccountPage, type ApiKeyRow, type GrantView, type SignInView } from './account-page'

export const ACCOUNT_PATH = DEFAULT_LANDING_PATH

export const accountHomeRoutes = new Hono<AppBindings>()

accountHomeRoutes.use(ACCOUNT_PATH, htmlErrors())
accountHomeRoutes.use(`${ACCOUNT_PATH}/*`, htmlErrors())

const sessionOnly = [authenticate({ credentials: ['session'] }), requireFirstParty] as const

/** The session loader names the provider of a provider sign-in (sessions/credential.ts). */
function signInOf(c: Context<AppBindings>, principal: Principal, session: CurrentSession): SignInView {
  const provider = principal.loginProvider
  if (session.authMethod === 'passkey') return { method: 'a passkey', at: session.authTime }
  if (provider === undefined) return { method: 'a password', at: session.authTime }
  const display = c.var.ctx.config.loginProviders.get(provider)?.display_name ?? provider
  return { method: display, at: session.authTime }
}

async function grantsOf(c: Context<AppBindings>, userId: string): Promise<GrantView[]> {
  return (await listGrants(c.env.DB, userId)).map((grant) => ({
    clientId: grant.clientId,
    clientName: grant.clientName ?? grant.clientId,
    scopes: grant.scopes,
    since: grant.createdAt,
  }))
}

async function liveApiKeys(c: Context<AppBindings>, userId: string): Promise<ApiKeyRow[]> {
  const now = Math.floor(Date.now() / 1000)
  return (await listOwnApiKeys(c.env.DB, userId))
    .filter((key) => key.revoked_at === null && (key.expires_at === null || key.expires_at > now))
    .map((key) => ({
      name: key.name,
      scopes: key.scopes,
      createdAt: key.created_at,
      expiresAt: key.expires_at,
      lastUsedAt: key.last_used_at,
    }))
}

accountHomeRoutes.get(ACCOUNT_PATH, ...sessionOnly, async function showAccount(c) {
  const principal = currentPrincipal(c)
  // How and when this session signed in, from D1 (the loader's cached record may lack them).
  const session = await currentSessionOf(c)
  // Ended between the loader and here: sign in again, back to this page.
  if (!session || session.userId !== principal.id) {
    c.header('cache-control', 'no-store')
    return c.redirect(loginUrl(ACCOUNT_PATH), 302)
  }
  const [grants, apiKeys] = await Promise.all([grantsOf(c, principal.id), liveApiKeys(c, principal.id)])
  return renderPage(
    c,
    AccountPage({
      productName: c.var.ctx.config.settings.product_name,
      username: principal.username,
      roles: principal.roles,
      signIn: signInOf(c, principal, session),
      grants,
      apiKeys,
      csrfToken: await csrfTokenFor(session.value),
    }),
  )
})

accountHomeRoutes.post(
  `${ACCOUNT_PATH}/grants/:client_id/revoke`,
  ...sessionOnly,
  async function revokeGrantFromForm(c) {
    const principal = currentPrincipal(c)
    const { config } = c.var.ctx
    const form = await readForm(c.req.raw)
    const session = await currentSessionOf(c)
    // Same-origin alone is not enough for a form (sessions/csrf-guard.ts): its field must carry
    // this session's token too.
    const allowed =
      session !== undefined &&
      (await signedInFormAllowed({
        request: c.req.raw,
        config,
        sessionValue: session.value,
        field: form.get('csrf'),
      }))
    if (!allowed)
      throw new GatewayError('csrf_failed', 'This form has expired or was sent from another site.')
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
