/**
 * What the account home shows, gathered for one signed-in browser session: who, how this session
 * signed in, the email address, the apps and keys. The page's GET and its forms' answers (which
 * show the page again with a notice) render it through `renderAccountPage`.
 */
import type { Context } from 'hono'
import { listOwnApiKeys } from '../api-keys'
import type { Principal } from '../authn'
import type { AppBindings } from '../env'
import { listGrants } from '../oauth'
import { type PageStatus, renderPage } from '../pages/render'
import { type CurrentSession, csrfTokenFor } from '../sessions'
import { findUserById } from '../users'
import {
  AccountPage,
  type AccountPageProps,
  type ApiKeyRow,
  type GrantView,
  type SignInView,
} from './account-page'

// How a session began, in the page's words, for the methods that are neither a password nor a
// login provider (signIn's `authMethod`: passkeys/, email/).
const SIGN_IN_METHODS: Readonly<Record<string, string>> = {
  passkey: 'a passkey',
  email_link: 'a link sent by email',
  email_code: 'a code sent by email',
  password_reset: 'a password reset link',
}

/** The session loader names the provider of a provider sign-in (sessions/credential.ts). */
function signInOf(c: Context<AppBindings>, principal: Principal, session: CurrentSession): SignInView {
  const provider = principal.loginProvider
  const method = SIGN_IN_METHODS[session.authMethod]
  if (method) return { method, at: session.authTime }
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

/** The account page for `session` (whose user is `principal`), with an optional notice. */
export async function renderAccountPage(
  c: Context<AppBindings>,
  principal: Principal,
  session: CurrentSession,
  options: { notice?: AccountPageProps['notice']; status?: PageStatus } = {},
): Promise<Response> {
  const { settings } = c.var.ctx.config
  const [grants, apiKeys, user] = await Promise.all([
    grantsOf(c, principal.id),
    liveApiKeys(c, principal.id),
    findUserById(c.env.DB, principal.id),
  ])
  return renderPage(
    c,
    AccountPage({
      productName: settings.product_name,
      username: principal.username,
      roles: principal.roles,
      signIn: signInOf(c, principal, session),
      email: {
        address: user?.email ?? null,
        verified: user?.emailVerified ?? false,
        reauthMinutes: Math.ceil(settings.factor_change_max_auth_age_seconds / 60),
      },
      grants,
      apiKeys,
      csrfToken: await csrfTokenFor(session.value),
      notice: options.notice,
    }),
    options.status ?? 200,
  )
}
