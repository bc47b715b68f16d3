/**
 * OAuth clients as the admin API manages them: create (the same options as the CLI's
 * create-client), list, rotate a secret, delete. The one module for client administration, so the
 * authorization-code options (redirect URIs, public clients' consent) extend it here. A secret is
 * returned once and stored only as its SHA-256 (32 random bytes make an unsalted hash safe).
 */
import type { AuditSink } from '../audit'
import type { Settings } from '../config/schema'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { GatewayError } from '../errors/gateway-error'
import { revokeSubject } from '../sessions'
import {
  type ClientRegistration,
  type ClientSummary,
  deleteClientRow,
  findClient,
  type GrantType,
  insertClient,
  isSelfRegistered,
  setClientSecretHash,
  updateClient,
} from './client-store'
import { checkOrigin, checkRedirectUri } from './redirect-uri'

/** Recognisable to secret scanners; the same prefix as the CLI's (scripts/lib/admin-clients.ts). */
export const CLIENT_SECRET_PREFIX = 'gws_'
const CLIENT_SECRET_BYTES = 32

export interface ClientView {
  client_id: string
  name: string
  confidential: boolean
  grant_types: GrantType[]
  scopes: string[]
  roles: string[]
  redirect_uris: string[]
  post_logout_redirect_uris: string[]
  skip_consent: boolean
  first_party: boolean
  allowed_roles: string[]
  allowed_origins: string[]
  disabled: boolean
  created_at: number
  /** `operator` (admin API, CLI) or `dynamic` (the client registered itself, RFC 7591). */
  registration: ClientRegistration
  /** When a code was last issued for it; null: never (a dynamic one then expires). */
  last_used_at: number | null
}

export function viewClient(client: ClientSummary): ClientView {
  return {
    client_id: client.clientId,
    name: client.name,
    confidential: client.secretHash !== undefined,
    grant_types: client.grantTypes,
    scopes: client.scopes,
    roles: client.roles,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    skip_consent: client.skipConsent,
    first_party: client.firstParty,
    allowed_roles: client.allowedRoles,
    allowed_origins: client.allowedOrigins,
    disabled: client.disabled,
    created_at: client.createdAt,
    registration: isSelfRegistered(client) ? 'dynamic' : 'operator',
    last_used_at: client.lastUsedAt ?? null,
  }
}

export interface ClientAdmin {
  stores: { DB: D1Database; KV: KVNamespace }
  settings: Settings
  audit?: AuditSink
  actorId: string
}

export interface NewClientInput {
  client_id: string
  name?: string
  public?: boolean
  grant_types?: GrantType[]
  scopes?: string[]
  roles?: string[]
  redirect_uris?: string[]
  post_logout_redirect_uris?: string[]
  skip_consent?: boolean
  first_party?: boolean
  allowed_roles?: string[]
  allowed_origins?: string[]
}

/** The Worker's one set of registration rules (oauth/redirect-uri.ts), as the CLI applies them. */
function checkedRedirectUris(values: readonly string[] | undefined, field: string): string[] {
  for (const uri of values ?? []) {
    const check = checkRedirectUri(uri)
    if (!check.ok) throw new GatewayError('invalid_request', `An entry of "${field}" ${check.reason}.`)
  }
  return [...new Set(values ?? [])]
}

/** `allowed_origins` entries are bare origins: https, or http on loopback (as redirect URIs). */
function checkedOrigins(values: readonly string[] | undefined): string[] {
  for (const origin of values ?? []) {
    const check = checkOrigin(origin)
    if (!check.ok) throw new GatewayError('invalid_request', `An entry of "allowed_origins" ${check.reason}.`)
  }
  return [...new Set(values ?? [])]
}

function newSecret(): string {
  return randomToken(CLIENT_SECRET_PREFIX, CLIENT_SECRET_BYTES)
}

export async function createClientAsAdmin(
  admin: ClientAdmin,
  input: NewClientInput,
): Promise<ClientView & { client_secret?: string }> {
  const isPublic = input.public === true
  const redirectUris = checkedRedirectUris(input.redirect_uris, 'redirect_uris')
  const postLogoutRedirectUris = checkedRedirectUris(
    input.post_logout_redirect_uris,
    'post_logout_redirect_uris',
  )
  const defaults: GrantType[] =
    redirectUris.length > 0
      ? ['authorization_code', 'refresh_token']
      : isPublic
        ? ['password', 'refresh_token']
        : ['client_credentials']
  const grants = [...new Set(input.grant_types ?? defaults)] as GrantType[]
  // The code flow needs a registered redirect URI, and a redirect URI is only for the code flow.
  if (grants.includes('authorization_code') !== redirectUris.length > 0)
    throw new GatewayError(
      'invalid_request',
      'The authorization_code grant and redirect_uris go together: give both or neither.',
    )
  // RFC 6749 §4.4: client_credentials needs client authentication, which a public client lacks.
  if (isPublic && grants.includes('client_credentials'))
    throw new GatewayError('invalid_request', 'A public client cannot use the client_credentials grant.')
  const secret = isPublic ? undefined : newSecret()
  const client = await withStorage('create client', async () =>
    insertClient(admin.stores.DB, {
      clientId: input.client_id,
      secretHash: secret === undefined ? undefined : await sha256Hex(secret),
      name: input.name ?? input.client_id,
      grantTypes: grants,
      scopes: [...new Set(input.scopes ?? [])],
      roles: [...new Set(input.roles ?? [])],
      redirectUris,
      postLogoutRedirectUris,
      skipConsent: input.skip_consent === true,
      firstParty: input.first_party === true,
      allowedRoles: [...new Set(input.allowed_roles ?? [])],
      allowedOrigins: checkedOrigins(input.allowed_origins),
    }),
  )
  if (!client) throw new GatewayError('conflict', 'A client with that id exists.')
  admin.audit?.record({
    type: 'client_created',
    actorId: admin.actorId,
    clientId: client.clientId,
    details: {
      confidential: !isPublic,
      grant_types: grants,
      scopes: client.scopes,
      first_party: client.firstParty,
      allowed_roles: client.allowedRoles,
    },
  })
  const view = viewClient({ ...client, createdAt: Math.floor(Date.now() / 1000) })
  return secret === undefined ? view : { ...view, client_secret: secret }
}

export interface ClientChangeInput {
  skip_consent?: boolean
  first_party?: boolean
  allowed_roles?: string[]
  allowed_origins?: string[]
  disabled?: boolean
}

/**
 * Changes how much an existing client is trusted. Takes effect at the client's next authorization
 * or refresh (roles are recomputed there: delegation.ts); access tokens already issued keep their
 * claims until they expire, so ending an app's access at once is `DELETE /admin/clients/{id}` or
 * the user's own withdrawal of consent.
 */
export async function updateClientAsAdmin(
  admin: ClientAdmin,
  clientId: string,
  input: ClientChangeInput,
): Promise<ClientView> {
  const updated = await withStorage('update client', () =>
    updateClient(admin.stores.DB, clientId, {
      skipConsent: input.skip_consent,
      firstParty: input.first_party,
      allowedRoles: input.allowed_roles === undefined ? undefined : [...new Set(input.allowed_roles)],
      allowedOrigins: input.allowed_origins === undefined ? undefined : checkedOrigins(input.allowed_origins),
      disabled: input.disabled,
    }),
  )
  if (!updated) throw new GatewayError('not_found', 'No client has that id.')
  admin.audit?.record({
    type: 'client_updated',
    actorId: admin.actorId,
    clientId,
    details: { ...input },
  })
  return viewClient(updated)
}

/** A new secret for a confidential client; the old one stops working at once (checked in D1). */
export async function rotateClientSecret(
  admin: ClientAdmin,
  clientId: string,
): Promise<{ client_id: string; client_secret: string }> {
  const client = await withStorage('client lookup', () => findClient(admin.stores.DB, clientId))
  if (!client) throw new GatewayError('not_found', 'No client has that id.')
  if (client.secretHash === undefined)
    throw new GatewayError('invalid_request', 'A public client has no secret to rotate.')
  const secret = newSecret()
  const hash = await sha256Hex(secret)
  if (!(await withStorage('rotate secret', () => setClientSecretHash(admin.stores.DB, clientId, hash))))
    throw new GatewayError('not_found', 'No client has that id.')
  admin.audit?.record({ type: 'client_secret_rotated', actorId: admin.actorId, clientId })
  return { client_id: clientId, client_secret: secret }
}

/**
 * Deletes a client and voids the access tokens it obtained for itself (client_credentials tokens
 * have the client as subject). Refresh tokens issued through it stop working too: a refresh needs
 * the client to authenticate, and it no longer exists.
 */
export async function deleteClientAsAdmin(admin: ClientAdmin, clientId: string): Promise<void> {
  if (!(await withStorage('delete client', () => deleteClientRow(admin.stores.DB, clientId))))
    throw new GatewayError('not_found', 'No client has that id.')
  await revokeSubject(admin.stores, clientId, admin.settings.access_token_ttl_seconds, {
    clockSkewSeconds: admin.settings.clock_skew_seconds,
  })
  admin.audit?.record({ type: 'client_deleted', actorId: admin.actorId, clientId })
}
