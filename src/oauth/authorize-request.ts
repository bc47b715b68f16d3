/**
 * Validation of a `GET /auth/authorize` request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 7636
 * §4.3, OIDC Core §3.1.2.1), before anyone is signed in. The order matters: until the client and
 * its redirect URI are known good, an error is shown on the gateway's own page and never
 * redirected (RFC 6749 §4.1.2.1), or the endpoint becomes an open redirector.
 */

import { type AcrValue, SUPPORTED_ACR_VALUES } from '../authz/authentication-strength'
import { parseScope } from '../authz/scopes'
import { nowSeconds } from '../db/json'
import { isGatewayError } from '../errors/gateway-error'
import { resolveResource } from '../mcp'
import { type ClientLookup, d1ClientLookup } from './client-lookup'
import { isSelfRegistered, type OAuthClient } from './client-store'
import { isS256Challenge, PKCE_METHOD } from './pkce'
import { matchRedirectUri } from './redirect-uri'

const MAX_ACR_VALUES_LENGTH = 256

/** RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 error codes sent back to the redirect URI. */
export type AuthorizeErrorCode =
  | 'invalid_request'
  | 'unauthorized_client'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_target'
  | 'request_not_supported'
  | 'request_uri_not_supported'

export type Prompt = 'none' | 'login' | 'consent'

export interface AuthorizationRequest {
  client: OAuthClient
  /** As presented (it matched a registered one); the code is bound to this exact string. */
  redirectUri: string
  state?: string
  /** Requested scopes (undefined: none named); cap with `authorizationScopes` once the user is known. */
  requestedScopes?: string[]
  codeChallenge: string
  nonce?: string
  prompt: ReadonlySet<Prompt>
  maxAge?: number
  /**
   * OIDC `acr_values` in order of preference; only values in SUPPORTED_ACR_VALUES are kept (the
   * others are voluntary requests we cannot meet, OIDC Core §3.1.2.1).
   */
  acrValues?: AcrValue[]
  loginHint?: string
  /** `login_after`: only a sign-in at or after this time (unix seconds) counts (interaction.ts). */
  loginAfter?: number
  /** RFC 8707: the MCP resource the tokens will be for; absent: the gateway's own audience. */
  resource?: string
}

/**
 * The gateway's own parameter on the authorize URL it sends to the login page as `return_to`
 * (interaction.ts). A client may send it too; it can only make its own request stricter, and a
 * value in the future is refused, since no sign-in could ever satisfy it.
 */
export const LOGIN_AFTER = 'login_after'

export type AuthorizeValidation =
  | { ok: true; request: AuthorizationRequest }
  /** Before the client and redirect URI are trusted: an HTML error page, never a redirect. */
  | { ok: false; show: 'page'; description: string }
  /** Afterwards: back to the client (`authorizationResponseUrl`) with `error`, `state` and `iss`. */
  | {
      ok: false
      show: 'redirect'
      redirectUri: string
      error: AuthorizeErrorCode
      description: string
      state?: string
    }

const MAX_STATE = 2048
const MAX_LOGIN_HINT = 256
const NONCE = /^[\x20-\x7e]{1,512}$/
// Up to 512: a Client ID Metadata Document's URL (oauth/fetch-guard.ts); D1 ids are at most 128.
const CLIENT_ID = /^[\x21-\x7e]{1,512}$/
const PROMPTS: readonly string[] = ['none', 'login', 'consent']

function page(description: string): AuthorizeValidation {
  return { ok: false, show: 'page', description }
}

/** A parameter given at most once (RFC 6749 §3.1); `null` when absent, `undefined` when repeated. */
function single(params: URLSearchParams, name: string): string | null | undefined {
  const values = params.getAll(name)
  if (values.length > 1) return undefined
  return values[0] ?? null
}

function parsePrompt(value: string | null): Set<Prompt> | string {
  const prompts = new Set((value ?? '').split(' ').filter(Boolean))
  for (const prompt of prompts)
    if (!PROMPTS.includes(prompt)) return `prompt "${prompt.slice(0, 30)}" is not supported`
  // OIDC Core §3.1.2.1: none with anything else is an error.
  if (prompts.has('none') && prompts.size > 1) return 'prompt=none cannot be combined with other values'
  return prompts as Set<Prompt>
}

/** Checks everything but the user: client, redirect URI, response type, PKCE, scope syntax, OIDC extras. */
export async function validateAuthorizationRequest(
  db: D1Database,
  params: URLSearchParams,
  now = nowSeconds(),
  /** The configured MCP resources (GatewayConfig.mcpResources), for RFC 8707 `resource`. */
  resources: ReadonlyMap<string, unknown> = new Map(),
  /** How the client is found: D1 alone, or metadata documents too (client-lookup.ts). */
  lookUp: ClientLookup = d1ClientLookup(db),
): Promise<AuthorizeValidation> {
  const clientId = single(params, 'client_id')
  if (clientId === undefined || clientId === null || !CLIENT_ID.test(clientId))
    return page('The request names no valid client_id.')
  const found = await lookUp(clientId)
  if ('refused' in found) return page(`The client's metadata document cannot be used: ${found.refused}`)
  const { client } = found
  if (!client || client.disabled) return page('The client is not registered.')
  const redirectUri = single(params, 'redirect_uri')
  // OIDC Core requires it, and OAuth 2.1 whenever several are registered: always require it.
  if (redirectUri === undefined || redirectUri === null) return page('The request names no redirect_uri.')
  if (!matchRedirectUri(redirectUri, client.redirectUris))
    return page('The redirect_uri is not registered for this client.')

  const state = single(params, 'state')
  const back = (error: AuthorizeErrorCode, description: string): AuthorizeValidation => ({
    ok: false,
    show: 'redirect',
    redirectUri,
    error,
    description,
    ...(typeof state === 'string' && state.length <= MAX_STATE ? { state } : {}),
  })
  for (const name of params.keys()) {
    if (name === 'resource') continue // RFC 8707 allows several; resolveResource refuses them
    if (params.getAll(name).length > 1)
      return back('invalid_request', `The parameter "${name.slice(0, 40)}" is repeated.`)
  }
  if (typeof state === 'string' && state.length > MAX_STATE)
    return back('invalid_request', 'The state is too long.')
  if (params.has('request')) return back('request_not_supported', 'Request objects are not supported.')
  if (params.has('request_uri')) return back('request_uri_not_supported', 'request_uri is not supported.')
  const responseType = params.get('response_type')
  if (responseType === null) return back('invalid_request', 'The response_type parameter is required.')
  if (responseType !== 'code')
    return back('unsupported_response_type', 'Only response_type=code is supported.')
  if (!client.grantTypes.includes('authorization_code'))
    return back('unauthorized_client', 'This client may not use the authorization code flow.')

  // OAuth 2.1 §4.1.1: PKCE for every client; RFC 7636 §4.4.1: an unsupported method is invalid_request.
  const challenge = params.get('code_challenge')
  if (challenge === null) return back('invalid_request', 'code_challenge is required (PKCE).')
  if (params.get('code_challenge_method') !== PKCE_METHOD)
    return back('invalid_request', 'code_challenge_method must be S256.')
  if (!isS256Challenge(challenge)) return back('invalid_request', 'The code_challenge is not an S256 value.')

  let requestedScopes: string[] | undefined
  try {
    requestedScopes = parseScope(params.get('scope'))
  } catch (error) {
    if (isGatewayError(error)) return back('invalid_scope', error.message)
    throw error
  }
  const beyondClient = (requestedScopes ?? []).filter((scope) => !client.scopes.includes(scope))
  if (beyondClient.length > 0)
    return back('invalid_scope', `The client may not request: ${beyondClient.join(' ').slice(0, 200)}.`)

  const nonce = params.get('nonce')
  if (nonce !== null && !NONCE.test(nonce))
    return back('invalid_request', 'The nonce must be 1-512 printable ASCII characters.')
  const prompt = parsePrompt(params.get('prompt'))
  if (typeof prompt === 'string') return back('invalid_request', prompt)
  const maxAgeText = params.get('max_age')
  if (maxAgeText !== null && !/^\d{1,9}$/.test(maxAgeText))
    return back('invalid_request', 'max_age must be a number of seconds.')
  const loginHint = params.get('login_hint')
  if (loginHint !== null && loginHint.length > MAX_LOGIN_HINT)
    return back('invalid_request', 'The login_hint is too long.')
  const acrText = params.get('acr_values')
  if (acrText !== null && acrText.length > MAX_ACR_VALUES_LENGTH)
    return back('invalid_request', 'The acr_values parameter is too long.')
  const acrValues = (acrText ?? '')
    .split(' ')
    .filter((value): value is AcrValue => (SUPPORTED_ACR_VALUES as readonly string[]).includes(value))

  let resource: string | undefined
  try {
    resource = resolveResource(params.getAll('resource'), resources, {
      selfRegistered: isSelfRegistered(client),
    })
  } catch (error) {
    if (isGatewayError(error)) return back('invalid_target', error.message)
    throw error
  }

  const loginAfterText = params.get(LOGIN_AFTER)
  if (loginAfterText !== null && !(/^\d{1,10}$/.test(loginAfterText) && Number(loginAfterText) <= now))
    return back('invalid_request', `${LOGIN_AFTER} must be a past time in seconds.`)

  return {
    ok: true,
    request: {
      client,
      redirectUri,
      ...(typeof state === 'string' ? { state } : {}),
      ...(requestedScopes ? { requestedScopes } : {}),
      codeChallenge: challenge,
      ...(nonce !== null ? { nonce } : {}),
      prompt,
      ...(maxAgeText !== null ? { maxAge: Number(maxAgeText) } : {}),
      ...(acrValues.length > 0 ? { acrValues } : {}),
      ...(loginHint !== null ? { loginHint } : {}),
      ...(loginAfterText !== null ? { loginAfter: Number(loginAfterText) } : {}),
      ...(resource !== undefined ? { resource } : {}),
    },
  }
}
