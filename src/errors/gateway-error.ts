/**
 * The one error type of the gateway. Every failure a client can see is a GatewayError with a code
 * from this closed set; `renderError` (errors/render.ts) is the only place that turns one into a
 * response.
 */
export const ERROR_STATUS = {
  // RFC 6749 §5.2 token-endpoint errors, reused wherever the meaning is the same.
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  // RFC 8707 §2: the `resource` is not one this authorization server issues tokens for.
  invalid_target: 400,
  // RFC 6750 §3.1 resource-server errors.
  invalid_token: 401,
  // RFC 7591 §3.2.2 client registration errors (POST /auth/clients).
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  insufficient_scope: 403,
  // RFC 9470 §3 step-up: the token is valid but its authentication is too old for this request.
  insufficient_user_authentication: 401,
  // The account has a second factor that this grant or scheme cannot ask for (password grant,
  // Basic): Auth0's `mfa_required`, with its 403.
  mfa_required: 403,
  // Gateway errors.
  invalid_path: 400,
  /** MCP Streamable HTTP: the Mcp-Method / Mcp-Name headers contradict the JSON-RPC body. */
  header_mismatch: 400,
  /** A body the gateway must judge but cannot (MCP: compressed, not JSON, a batch, duplicate keys). */
  unsupported_body: 400,
  invalid_credentials: 401,
  forbidden: 403,
  /** A session-authenticated unsafe request from another origin (src/sessions/csrf.ts). */
  csrf_failed: 403,
  registration_disabled: 403,
  /** ISSUER's host is an IP address, which can never be a WebAuthn RP ID (config/relying-party.ts). */
  passkeys_unavailable: 400,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  upstream_unavailable: 502,
  gateway_misconfigured: 503,
  jwks_unavailable: 503,
  storage_unavailable: 503,
  upstream_timeout: 504,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/**
 * Which `WWW-Authenticate` challenge a 401/403 carries (RFC 6750 §3, RFC 7617 §2). RFC 9470 §3
 * adds `insufficient_user_authentication` with `max_age` (seconds) and an `error_description`
 * saying what to do: the client re-authenticates and retries.
 */
export type Challenge =
  | {
      scheme: 'Bearer'
      error?: 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication'
      description?: string
      scope?: string
      maxAge?: number
      /** RFC 9470 §3: the authentication context class(es) that would satisfy the request. */
      acrValues?: string
      /** RFC 9728 §5.1: where the protected resource's metadata is (MCP routes). */
      resourceMetadata?: string
    }
  | { scheme: 'Basic' }
  | { scheme: 'ApiKey' }

export interface GatewayErrorOptions {
  /** One challenge, or several for a route that accepts several schemes (RFC 9110 §11.6.1). */
  challenge?: Challenge | readonly Challenge[]
  /** Seconds for `Retry-After` on 429 (RFC 6585 §4). */
  retryAfter?: number
  /** The methods for `Allow`, which a 405 must carry (RFC 9110 §15.5.6). */
  allow?: readonly string[]
  /** Logged with the request id, never sent to the client. */
  cause?: unknown
  /**
   * Answer as a JSON-RPC error response with this id (an MCP route: its clients read the body as
   * JSON-RPC); the status and headers stay the same.
   */
  jsonRpcId?: JsonRpcId
}

/** A JSON-RPC request id; null when the request's could not be read. */
export type JsonRpcId = string | number | null

/**
 * A failure the client may see: a code from the closed set above (its HTTP status follows), a
 * description safe to show, and optionally a challenge, `Retry-After` or `Allow`.
 *
 * @example
 * ```ts
 * throw new GatewayError('invalid_token', 'The access token has expired.', {
 *   challenge: { scheme: 'Bearer', error: 'invalid_token' },
 * })
 * ```
 */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: (typeof ERROR_STATUS)[ErrorCode]
  readonly challenge?: Challenge | readonly Challenge[]
  readonly retryAfter?: number
  readonly allow?: readonly string[]
  readonly jsonRpcId?: JsonRpcId

  /** `description` is shown to the client: it must never contain a token, password or secret. */
  constructor(code: ErrorCode, description: string, options: GatewayErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GatewayError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.challenge = options.challenge
    if (options.jsonRpcId !== undefined) this.jsonRpcId = options.jsonRpcId
    this.retryAfter = options.retryAfter
    this.allow = options.allow
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError
}
