/**
 * RFC 7591 dynamic client registration: what a client may say about itself, and the client the
 * gateway makes of it. A self-registered client is public by default (PKCE, as every client), never
 * first-party, never skips consent, acts with no role, adds no CORS origin of its own choosing, and
 * its name is its own claim (the consent page leads with its redirect host instead). Only the
 * operator's settings (SETTINGS.dynamic_clients) widen that: a secret, or fewer scopes.
 */
import type { AuditSink } from '../audit'
import { parseScope } from '../authz/scopes'
import type { Settings } from '../config/schema'
import { randomToken, sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { CLIENT_SECRET_PREFIX } from './client-admin'
import { type GrantType, insertClient } from './client-store'
import { checkRedirectUri, redirectHost } from './redirect-uri'
import { supportedScopes } from './requested-scopes'

/** Recognisable in logs and the admin list; 128 random bits, so an id cannot be guessed or chosen. */
export const DYNAMIC_CLIENT_PREFIX = 'dcr_'
const CLIENT_ID_BYTES = 16
const CLIENT_SECRET_BYTES = 32
// A client_name is shown on the consent page: one short line, never the whole page.
export const MAX_CLIENT_NAME_LENGTH = 100
const MAX_REDIRECT_URIS = 10

/**
 * The operator's trust decisions: a registrant naming one of these is refused outright (not
 * ignored), so a client that expects them learns at once that it cannot have them.
 */
export const OPERATOR_ONLY_FIELDS = ['first_party', 'skip_consent', 'allowed_roles', 'allowed_origins']

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const
type AuthMethod = (typeof AUTH_METHODS)[number]
const SELF_GRANTS: readonly GrantType[] = ['authorization_code', 'refresh_token']

/** What a registration asked for, checked: RFC 7591 §2 metadata the gateway supports. */
export interface ClientMetadata {
  redirectUris: string[]
  clientName?: string
  authMethod: AuthMethod
  grantTypes: GrantType[]
  scopes: string[]
}

function invalidMetadata(description: string): GatewayError {
  return new GatewayError('invalid_client_metadata', description)
}

function stringList(fields: Record<string, unknown>, name: string): string[] | undefined {
  const value = fields[name]
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    throw invalidMetadata(`"${name}" must be an array of strings.`)
  return [...new Set(value as string[])]
}

function redirectUris(fields: Record<string, unknown>): string[] {
  const uris = stringList(fields, 'redirect_uris')
  // RFC 7591 §2: required for the redirect-based flows, the only ones a registrant gets.
  if (uris === undefined || uris.length === 0)
    throw new GatewayError('invalid_redirect_uri', '"redirect_uris" must list at least one redirect URI.')
  if (uris.length > MAX_REDIRECT_URIS)
    throw new GatewayError('invalid_redirect_uri', `At most ${MAX_REDIRECT_URIS} redirect URIs.`)
  for (const uri of uris) {
    // The one set of rules operator-registered clients follow (redirect-uri.ts).
    const check = checkRedirectUri(uri)
    if (!check.ok) throw new GatewayError('invalid_redirect_uri', `A redirect URI ${check.reason}.`)
  }
  return uris
}

function clientName(fields: Record<string, unknown>): string | undefined {
  const value = fields.client_name
  if (value === undefined) return undefined
  if (
    typeof value !== 'string' ||
    value.trim().length === 0 ||
    value.length > MAX_CLIENT_NAME_LENGTH ||
    /\p{Cc}/u.test(value)
  )
    throw invalidMetadata(`"client_name" must be one line of 1-${MAX_CLIENT_NAME_LENGTH} characters.`)
  return value.trim()
}

function authMethod(fields: Record<string, unknown>, allowConfidential: boolean): AuthMethod {
  // RFC 7591 §2 defaults to client_secret_basic; this gateway defaults to a public client.
  const value = fields.token_endpoint_auth_method ?? 'none'
  if (!AUTH_METHODS.includes(value as AuthMethod))
    throw invalidMetadata(`"token_endpoint_auth_method" must be one of ${AUTH_METHODS.join(', ')}.`)
  if (value !== 'none' && !allowConfidential)
    throw invalidMetadata(
      'Self-registered clients are public: "token_endpoint_auth_method" must be "none" (PKCE).',
    )
  return value as AuthMethod
}

function grantTypes(fields: Record<string, unknown>): GrantType[] {
  const grants = stringList(fields, 'grant_types') ?? [...SELF_GRANTS]
  if (
    !grants.includes('authorization_code') ||
    grants.some((grant) => !SELF_GRANTS.includes(grant as GrantType))
  )
    throw invalidMetadata('"grant_types" must be authorization_code, optionally with refresh_token.')
  const responseTypes = stringList(fields, 'response_types') ?? ['code']
  // RFC 7591 §2.1: response_types must agree with grant_types; code is the only one served.
  if (responseTypes.length !== 1 || responseTypes[0] !== 'code')
    throw invalidMetadata('"response_types" must be ["code"].')
  return grants as GrantType[]
}

/** Requested ∩ allowed (RFC 7591 §2 lets the server narrow); without a request, all allowed. */
function scopes(fields: Record<string, unknown>, allowed: readonly string[]): string[] {
  const value = fields.scope
  if (value === undefined) return [...allowed]
  let requested: string[] | undefined
  try {
    requested = typeof value === 'string' ? parseScope(value) : undefined
  } catch {
    requested = undefined
  }
  if (requested === undefined) throw invalidMetadata('"scope" must be space-separated scope names.')
  return requested.filter((scope) => allowed.includes(scope)).sort()
}

/** The scopes a registrant may have: SETTINGS.dynamic_clients.scopes, else every scope served. */
export function registrableScopes(settings: Settings): string[] {
  const supported = supportedScopes(settings.role_scopes)
  const limit = settings.dynamic_clients.scopes
  return limit === undefined ? supported : supported.filter((scope) => limit.includes(scope))
}

/**
 * Checks a registration request's fields. Unknown metadata is ignored (RFC 7591 §2); the
 * operator-only fields are refused, whatever their value.
 */
export function parseClientMetadata(fields: Record<string, unknown>, settings: Settings): ClientMetadata {
  const claimed = OPERATOR_ONLY_FIELDS.filter((name) => Object.hasOwn(fields, name))
  if (claimed.length > 0)
    throw invalidMetadata(`Only the operator sets ${claimed.join(', ')}; a client cannot register with it.`)
  return {
    redirectUris: redirectUris(fields),
    clientName: clientName(fields),
    authMethod: authMethod(fields, settings.dynamic_clients.allow_confidential),
    grantTypes: grantTypes(fields),
    scopes: scopes(fields, registrableScopes(settings)),
  }
}

/** The RFC 7591 §3.2.1 answer: the registered metadata, and a secret only here, only once. */
export interface RegisteredClient {
  client_id: string
  client_id_issued_at: number
  redirect_uris: string[]
  token_endpoint_auth_method: AuthMethod
  grant_types: GrantType[]
  response_types: ['code']
  scope: string
  client_name?: string
  client_secret?: string
  /** RFC 7591 §3.2.1: required with a secret; 0 = it does not expire. */
  client_secret_expires_at?: 0
}

export async function registerClient(
  db: D1Database,
  metadata: ClientMetadata,
  audit?: AuditSink,
): Promise<RegisteredClient> {
  const clientId = randomToken(DYNAMIC_CLIENT_PREFIX, CLIENT_ID_BYTES)
  const secret =
    metadata.authMethod === 'none' ? undefined : randomToken(CLIENT_SECRET_PREFIX, CLIENT_SECRET_BYTES)
  const client = await withStorage('register client', async () =>
    insertClient(db, {
      clientId,
      secretHash: secret === undefined ? undefined : await sha256Hex(secret),
      name: metadata.clientName ?? '',
      grantTypes: metadata.grantTypes,
      scopes: metadata.scopes,
      roles: [],
      redirectUris: metadata.redirectUris,
      selfRegistered: true,
    }),
  )
  // 128 random bits do not collide; if they ever did, nothing was overwritten (DO NOTHING).
  if (!client) throw new GatewayError('internal_error', 'The client id was taken; register again.')
  audit?.record({
    type: 'client_registered',
    clientId,
    details: {
      client_name: metadata.clientName,
      redirect_hosts: metadata.redirectUris.map(redirectHost),
      confidential: secret !== undefined,
      grant_types: metadata.grantTypes,
      scopes: metadata.scopes,
    },
  })
  return {
    client_id: clientId,
    client_id_issued_at: nowSeconds(),
    redirect_uris: metadata.redirectUris,
    token_endpoint_auth_method: metadata.authMethod,
    grant_types: metadata.grantTypes,
    response_types: ['code'],
    scope: metadata.scopes.join(' '),
    ...(metadata.clientName === undefined ? {} : { client_name: metadata.clientName }),
    ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
  }
}
