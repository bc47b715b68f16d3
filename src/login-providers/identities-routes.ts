/**
 * The caller's external identities: GET /auth/identities (JSON, or the HTML page for browsers, with
 * a link form per provider not linked yet: POST /auth/login/{provider}/link, login-providers.ts),
 * DELETE /auth/identities/{provider}, and POST /auth/identities/{provider}/unlink (the same, for
 * the page's forms). An unlink that would leave the account without a way to sign in (no usable
 * password, no other provider) is refused with 409.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { authenticate, currentPrincipal, requireFirstParty } from '../authn'
import { withStorage } from '../db/errors'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { htmlErrors, wantsHtml } from '../pages/html-errors'
import { renderPage } from '../pages/render'
import { csrfTokenFor, readSessionCookie } from '../sessions'
import { NO_PASSWORD_PREFIX } from './external-sign-in'
import { IdentitiesPage, type IdentityView } from './identities-page'
import { deleteUserIdentities, listUserIdentities } from './identity-store'
import { authorizationEndpointHint } from './metadata'
import { IDENTITIES_PATH } from './routes'

export const identityRoutes = new Hono<AppBindings>()

identityRoutes.use(IDENTITIES_PATH, htmlErrors())
identityRoutes.use(`${IDENTITIES_PATH}/*`, htmlErrors())

const identityAuth = [authenticate({ credentials: ['jwt', 'session'] }), requireFirstParty] as const

async function identitiesOf(c: Context<AppBindings>, userId: string): Promise<IdentityView[]> {
  const providers = c.var.ctx.config.loginProviders
  const rows = await withStorage('list identities', () => listUserIdentities(c.env.DB, userId))
  return rows.map((row) => ({
    provider: row.provider,
    display_name: providers.get(row.provider)?.display_name ?? row.provider,
    account: row.display || row.email || row.subject,
    created_at: row.created_at,
    last_login_at: row.last_login_at,
  }))
}

identityRoutes.get(IDENTITIES_PATH, ...identityAuth, async function showIdentities(c) {
  const principal = currentPrincipal(c)
  const identities = await identitiesOf(c, principal.id)
  if (!wantsHtml(c.req.raw)) return c.json({ items: identities }, 200, { 'cache-control': 'no-store' })
  const { config } = c.var.ctx
  // Linking needs this browser's session (the callback checks it): its link forms carry the
  // session's CSRF token, and without a session the page offers none.
  const session = principal.method === 'session' ? readSessionCookie(c.req.raw, config.issuer) : undefined
  const linked = new Set(identities.map((identity) => identity.provider))
  const linkable = session
    ? [...config.loginProviders.values()].filter((provider) => !linked.has(provider.name))
    : []
  return renderPage(
    c,
    IdentitiesPage({
      productName: config.settings.product_name,
      username: principal.username,
      identities,
      linkable: linkable.map((provider) => ({ name: provider.name, displayName: provider.display_name })),
      csrfToken: session ? await csrfTokenFor(session) : '',
    }),
    200,
    // The link forms' answer is a redirect to the provider, which CSP form-action also governs.
    { formTargets: linkable.map(authorizationEndpointHint) },
  )
})

async function unlink(c: Context<AppBindings>): Promise<void> {
  const principal = currentPrincipal(c)
  const provider = c.req.param('provider') ?? ''
  const result = await withStorage('unlink identity', () =>
    deleteUserIdentities(c.env.DB, principal.id, provider, NO_PASSWORD_PREFIX),
  )
  if (result === 'none') throw new GatewayError('not_found', 'No such linked account.')
  if (result === 'last_way_in')
    throw new GatewayError(
      'conflict',
      'This is the only way to sign in to this account: set a password or link another provider first.',
    )
  recordAuditEvent(c.var.ctx, {
    type: 'identity_unlinked',
    actorId: principal.id,
    subjectId: principal.id,
    details: { provider: provider.slice(0, 64) },
  })
}

identityRoutes.delete(`${IDENTITIES_PATH}/:provider`, ...identityAuth, async function unlinkIdentity(c) {
  await unlink(c)
  return c.body(null, 204)
})

identityRoutes.post(`${IDENTITIES_PATH}/:provider/unlink`, ...identityAuth, async function unlinkFromForm(c) {
  await unlink(c)
  c.header('cache-control', 'no-store')
  return c.redirect(IDENTITIES_PATH, 303)
})
