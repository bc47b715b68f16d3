/**
 * The caller's passkeys: GET /auth/passkeys (JSON, or the HTML page for browsers), registration
 * (POST /auth/passkeys/registration-options, then POST /auth/passkeys with the new credential),
 * PATCH and DELETE /auth/passkeys/{id}, and POST /auth/passkeys/{id}/rename and /delete, the same
 * for the page's forms (HTML forms can only GET and POST). First-party credentials only: the
 * browser session (unsafe methods pass the CSRF guard) or the user's own bearer token.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { recordAuditEvent } from '../audit'
import { assertRecentAuthentication, authenticate, currentPrincipal, requireFirstParty } from '../authn'
import { relyingPartyFor } from '../config/relying-party'
import { withStorage } from '../db/errors'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { readFields } from '../http/form'
import { listUserIdentities } from '../login-providers'
import { htmlErrors, wantsHtml } from '../pages/html-errors'
import { passkeyScriptHash } from '../pages/passkey-script'
import { renderPage } from '../pages/render'
import { csrfTokenFor, currentSessionOf, readSessionCookie } from '../sessions'
import { ensureBinding } from './challenges'
import { AttestationCredential, readCredential } from './credential-json'
import { auditedCeremony, ceremonyContext, requireRelyingParty } from './http'
import { PASSKEYS_PATH, PasskeysPage } from './passkeys-page'
import {
  cleanName,
  deletePasskey,
  finishRegistration,
  listPasskeys,
  MAX_NAME_LENGTH,
  registrationOptions,
  renamePasskey,
} from './service'

export const passkeyRoutes = new Hono<AppBindings>()

passkeyRoutes.use(PASSKEYS_PATH, htmlErrors())
passkeyRoutes.use(`${PASSKEYS_PATH}/*`, htmlErrors())

const own = [authenticate({ credentials: ['jwt', 'session'] }), requireFirstParty] as const
// Registering makes a credential that outlives the session: revocation is read from D1, as for minting API keys.
const registering = [
  authenticate({ credentials: ['jwt', 'session'], revocation: 'strict' }),
  requireFirstParty,
] as const

const NOT_A_USER = 'Passkeys belong to users; a client token cannot manage them.'

function userOf(c: Context<AppBindings>) {
  const principal = currentPrincipal(c)
  // A client_credentials token acts as a client, not a user: it has no account to hold passkeys.
  if (principal.clientId !== undefined && principal.clientId === principal.id)
    throw new GatewayError('forbidden', NOT_A_USER)
  return principal
}

/**
 * A recent sign-in, as for minting an API key (`api_key_max_auth_age_seconds`): a passkey is a way
 * into the account that outlives the credential asking for it. A bearer token's `auth_time`
 * (RFC 9470 challenge when too old); the browser session's sign-in time, read from D1.
 */
async function assertRecentSignIn(c: Context<AppBindings>): Promise<void> {
  const principal = userOf(c)
  const { settings } = c.var.ctx.config
  const maxAgeSeconds = settings.api_key_max_auth_age_seconds
  if (principal.method !== 'session') {
    assertRecentAuthentication(principal, { maxAgeSeconds, clockSkewSeconds: settings.clock_skew_seconds })
    return
  }
  const session = await currentSessionOf(c)
  const now = Math.floor(Date.now() / 1000)
  if (session && now - session.authTime <= maxAgeSeconds) return
  throw new GatewayError(
    'insufficient_user_authentication',
    `Sign in again to add a passkey: this needs a sign-in within the last ${Math.ceil(maxAgeSeconds / 60)} minutes.`,
  )
}

passkeyRoutes.get(PASSKEYS_PATH, ...own, async function showPasskeys(c) {
  const principal = userOf(c)
  const passkeys = await listPasskeys(c.env.DB, principal.id)
  if (!wantsHtml(c.req.raw)) return c.json({ items: passkeys }, 200, { 'cache-control': 'no-store' })
  const { config } = c.var.ctx
  const session = principal.method === 'session' ? readSessionCookie(c.req.raw, config.issuer) : undefined
  return renderPage(
    c,
    PasskeysPage({
      productName: config.settings.product_name,
      username: principal.username,
      passkeys,
      available: relyingPartyFor(config.issuer) !== undefined,
      csrfToken: session ? await csrfTokenFor(session) : '',
      maxNameLength: MAX_NAME_LENGTH,
    }),
    200,
    { scriptHashes: [await passkeyScriptHash()] },
  )
})

passkeyRoutes.post(
  `${PASSKEYS_PATH}/registration-options`,
  ...registering,
  async function creationOptions(c) {
    const rp = requireRelyingParty(c)
    await assertRecentSignIn(c)
    const principal = userOf(c)
    const options = await registrationOptions(c.env.DB, {
      rp,
      productName: c.var.ctx.config.settings.product_name,
      user: { id: principal.id, username: principal.username },
      binding: ensureBinding(c, c.var.ctx.config.issuer),
    })
    return c.json(options, 200, { 'cache-control': 'no-store' })
  },
)

passkeyRoutes.post(PASSKEYS_PATH, ...registering, async function registerPasskey(c) {
  const rp = requireRelyingParty(c)
  await assertRecentSignIn(c)
  const principal = userOf(c)
  const fields = await readFields(c.req.raw)
  const name = cleanName(fields.name) ?? 'Passkey'
  const passkey = await auditedCeremony(c, 'registration', principal.id, async () =>
    finishRegistration({
      context: ceremonyContext(c, rp),
      userId: principal.id,
      name,
      credential: readCredential(AttestationCredential, fields.credential),
    }),
  )
  recordAuditEvent(c.var.ctx, {
    type: 'passkey_registered',
    actorId: principal.id,
    subjectId: principal.id,
    details: { passkey_id: passkey.id, name, device_type: passkey.device_type, aaguid: passkey.aaguid },
  })
  return c.json(passkey, 201, { 'cache-control': 'no-store' })
})

async function rename(c: Context<AppBindings>): Promise<void> {
  const principal = userOf(c)
  const id = c.req.param('id') ?? ''
  const name = cleanName((await readFields(c.req.raw)).name)
  if (!name)
    throw new GatewayError(
      'invalid_request',
      `name: a name of 1 to ${MAX_NAME_LENGTH} characters is required.`,
    )
  if (!(await renamePasskey(c.env.DB, principal.id, id, name)))
    throw new GatewayError('not_found', 'You have no passkey with that id.')
  recordAuditEvent(c.var.ctx, {
    type: 'passkey_renamed',
    actorId: principal.id,
    subjectId: principal.id,
    details: { passkey_id: id.slice(0, 64), name },
  })
}

/**
 * The last way in stays: without a usable password and a linked provider identity, the last
 * passkey cannot be deleted (409). The identity is asked of login-providers here, the password and
 * the other passkeys in the DELETE itself (store.ts).
 */
async function remove(c: Context<AppBindings>): Promise<void> {
  const principal = userOf(c)
  const id = c.req.param('id') ?? ''
  const identities = await withStorage('list identities', () => listUserIdentities(c.env.DB, principal.id))
  const result = await deletePasskey(c.env.DB, {
    userId: principal.id,
    id,
    otherWayIn: identities.length > 0,
  })
  if (result === 'none') throw new GatewayError('not_found', 'You have no passkey with that id.')
  if (result === 'last_way_in')
    throw new GatewayError(
      'conflict',
      'This passkey is the only way to sign in to this account: add another passkey, set a password or link a provider first.',
    )
  recordAuditEvent(c.var.ctx, {
    type: 'passkey_deleted',
    actorId: principal.id,
    subjectId: principal.id,
    details: { passkey_id: id.slice(0, 64), by: 'owner' },
  })
}

passkeyRoutes.patch(`${PASSKEYS_PATH}/:id`, ...own, async function renamePasskeyRoute(c) {
  await rename(c)
  return c.body(null, 204)
})

passkeyRoutes.delete(`${PASSKEYS_PATH}/:id`, ...own, async function deletePasskeyRoute(c) {
  await remove(c)
  return c.body(null, 204)
})

passkeyRoutes.post(`${PASSKEYS_PATH}/:id/rename`, ...own, async function renameFromForm(c) {
  await rename(c)
  c.header('cache-control', 'no-store')
  return c.redirect(PASSKEYS_PATH, 303)
})

passkeyRoutes.post(`${PASSKEYS_PATH}/:id/delete`, ...own, async function deleteFromForm(c) {
  await remove(c)
  c.header('cache-control', 'no-store')
  return c.redirect(PASSKEYS_PATH, 303)
})
