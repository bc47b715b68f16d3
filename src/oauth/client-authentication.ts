import { sha256Hex, timingSafeEqual } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'
import { type ClientLookup, d1ClientLookup } from './client-lookup'
import type { OAuthClient } from './client-store'
import { MAX_DOCUMENT_URL_LENGTH } from './fetch-guard'

export interface ClientAuthentication {
  client: OAuthClient
  /** True for a confidential client that proved its secret; false for a public client that only named itself. */
  confidential: boolean
}

// Compared against when the client does not exist, so unknown and known clients cost the same.
const DUMMY_HASH = '0'.repeat(64)

export function invalidClient(description = 'Client authentication failed.'): GatewayError {
  return new GatewayError('invalid_client', description, { challenge: { scheme: 'Basic' } })
}

function decodeBasic(header: string): { id: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(header)
  if (!match) throw invalidClient('The Basic credentials are malformed.')
  let decoded: string
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      Uint8Array.from(atob(match[1] as string), (char) => char.charCodeAt(0)),
    )
  } catch {
    throw invalidClient('The Basic credentials are malformed.')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw invalidClient('The Basic credentials are malformed.')
  // RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    }
  } catch {
    throw invalidClient('The Basic credentials are malformed.')
  }
}

/**
 * Client authentication for the token, revocation and introspection endpoints: HTTP Basic or
 * form `client_id` + `client_secret` (never both), or a public client naming its `client_id`.
 * Returns undefined when the request names no client at all.
 */
export async function authenticateClient(
  db: D1Database,
  request: Request,
  form: URLSearchParams,
  /** How the client is found: D1 alone, or metadata documents too (client-lookup.ts). */
  lookUp: ClientLookup = d1ClientLookup(db),
): Promise<ClientAuthentication | undefined> {
  const header = request.headers.get('authorization')
  const basic = header !== null && /^basic(\s|$)/i.test(header) ? decodeBasic(header) : undefined
  const formId = form.get('client_id') ?? undefined
  const formSecret = form.get('client_secret') ?? undefined
  if (basic && (formSecret !== undefined || (formId !== undefined && formId !== basic.id))) {
    throw new GatewayError('invalid_request', 'Use exactly one client authentication method.')
  }
  const clientId = basic?.id ?? formId
  const secret = basic?.secret ?? formSecret
  if (clientId === undefined) {
    if (secret !== undefined) throw invalidClient()
    return undefined
  }
  if (clientId.length === 0 || clientId.length > MAX_DOCUMENT_URL_LENGTH) throw invalidClient()
  const found = await lookUp(clientId)
  if ('refused' in found)
    throw invalidClient(`The client's metadata document cannot be used: ${found.refused}`)
  const { client } = found
  if (secret === undefined) {
    // A public client: it may only name itself, and only if it has no secret.
    if (!client || client.disabled || client.secretHash !== undefined) throw invalidClient()
    return { client, confidential: false }
  }
  const presented = await sha256Hex(secret)
  const matches = timingSafeEqual(presented, client?.secretHash ?? DUMMY_HASH)
  if (!client || client.disabled || client.secretHash === undefined || !matches) throw invalidClient()
  return { client, confidential: true }
}
