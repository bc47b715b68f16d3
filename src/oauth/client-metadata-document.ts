/**
 * A Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document; the MCP spec's
 * preferred registration): the JSON an MCP client publishes at the https URL it uses as its
 * `client_id`. What it can make of the client is narrow on purpose: a public client (PKCE, no
 * secret), self-registered and delegated, with the redirect URIs it lists. Nothing in a document
 * can grant the trust only an operator gives (first_party, skip_consent, allowed_roles,
 * allowed_origins): a document naming one is refused, so the author learns at once it does not work.
 */
import { parseScope } from '../authz/scopes'
import { isGatewayError } from '../errors/gateway-error'
import type { GrantType, OAuthClient } from './client-store'
import { ClientMetadataError } from './fetch-guard'
import { checkRedirectUri } from './redirect-uri'

/** Operator-only client fields, and the secret a public client cannot have. */
const REFUSED_FIELDS = [
  'first_party',
  'skip_consent',
  'allowed_roles',
  'allowed_origins',
  'roles',
  'client_secret',
  'client_secret_expires_at',
] as const
const DOCUMENT_GRANTS: readonly GrantType[] = ['authorization_code', 'refresh_token']
const MAX_REDIRECT_URIS = 16
const MAX_NAME = 100
const MAX_URI = 2000
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/

function invalid(message: string): never {
  throw new ClientMetadataError('invalid_document', `The client metadata document ${message}.`)
}

function optionalText(document: Record<string, unknown>, field: string, max: number): string | undefined {
  const value = document[field]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL.test(value))
    invalid(`has an invalid ${field} (1-${max} characters, no control or direction characters)`)
  return value
}

function optionalHttpsUri(document: Record<string, unknown>, field: string): string | undefined {
  const value = optionalText(document, field, MAX_URI)
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    invalid(`has a ${field} that is not a URL`)
  }
  if (url.protocol !== 'https:') invalid(`has a ${field} that is not https`)
  return value
}

function redirectUris(document: Record<string, unknown>): string[] {
  const value = document.redirect_uris
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_REDIRECT_URIS)
    invalid(`must list 1-${MAX_REDIRECT_URIS} redirect_uris`)
  for (const uri of value) {
    if (typeof uri !== 'string') invalid('has a redirect_uri that is not a string')
    const check = checkRedirectUri(uri)
    if (!check.ok) invalid(`has a redirect_uri that ${check.reason}`)
  }
  return [...new Set(value as string[])]
}

function grantTypes(document: Record<string, unknown>): GrantType[] {
  // RFC 7591 §2: absent means authorization_code alone.
  const value = document.grant_types ?? ['authorization_code']
  if (!Array.isArray(value) || value.some((grant) => !DOCUMENT_GRANTS.includes(grant as GrantType)))
    invalid('may list only authorization_code and refresh_token as grant_types')
  if (!value.includes('authorization_code')) invalid('must allow the authorization_code grant')
  return [...new Set(value as GrantType[])]
}

function scopes(document: Record<string, unknown>, knownScopes: readonly string[]): string[] {
  const value = document.scope
  if (value === undefined) return [...knownScopes]
  if (typeof value !== 'string') invalid('has a scope that is not a string')
  try {
    return parseScope(value) ?? []
  } catch (error) {
    if (isGatewayError(error)) invalid('has a malformed scope')
    throw error
  }
}

export interface DocumentClientOptions {
  /** Scopes a document without `scope` may request: every scope the gateway can grant. */
  knownScopes: readonly string[]
}

/**
 * The client a fetched document describes, or a ClientMetadataError (`invalid_document`) saying
 * what is wrong. `url` is the client_id the request named, which the document's must equal exactly.
 */
export function clientFromDocument(
  url: string,
  parsed: unknown,
  options: DocumentClientOptions,
): OAuthClient {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) invalid('is not a JSON object')
  const document = parsed as Record<string, unknown>
  if (document.client_id !== url) invalid('names another client_id than its own URL')
  const refused = REFUSED_FIELDS.filter((field) => field in document)
  if (refused.length > 0) invalid(`sets ${refused.join(', ')}, which only the operator can give a client`)
  const authMethod = document.token_endpoint_auth_method ?? 'none'
  if (authMethod !== 'none')
    invalid('must use token_endpoint_auth_method "none": clients identified by a document are public')
  const responseTypes = document.response_types ?? ['code']
  if (!Array.isArray(responseTypes) || responseTypes.some((type) => type !== 'code'))
    invalid('may list only "code" as response_types')
  const clientUri = optionalHttpsUri(document, 'client_uri')
  const logoUri = optionalHttpsUri(document, 'logo_uri')
  return {
    clientId: url,
    name: optionalText(document, 'client_name', MAX_NAME) ?? '',
    grantTypes: grantTypes(document),
    scopes: scopes(document, options.knownScopes),
    roles: [],
    redirectUris: redirectUris(document),
    postLogoutRedirectUris: [],
    skipConsent: false,
    firstParty: false,
    allowedRoles: [],
    allowedOrigins: [],
    disabled: false,
    selfRegistered: true,
    metadataDocument: {
      host: new URL(url).host,
      ...(clientUri !== undefined ? { clientUri } : {}),
      ...(logoUri !== undefined ? { logoUri } : {}),
    },
  }
}
