import { logEvent } from '../log'
import type { Challenge, GatewayError } from './gateway-error'
import { isGatewayError } from './gateway-error'

export const DEFAULT_REALM = 'edge-auth-gateway'

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`
}

export function formatChallenge(challenge: Challenge, realm: string): string {
  if (challenge.scheme === 'Basic') return `Basic realm=${quote(realm)}, charset="UTF-8"`
  if (challenge.scheme === 'ApiKey') return `ApiKey realm=${quote(realm)}`
  const parts = [`realm=${quote(realm)}`]
  if (challenge.resourceMetadata) parts.push(`resource_metadata=${quote(challenge.resourceMetadata)}`)
  if (challenge.error) parts.push(`error=${quote(challenge.error)}`)
  if (challenge.description) parts.push(`error_description=${quote(challenge.description)}`)
  if (challenge.scope) parts.push(`scope=${quote(challenge.scope)}`)
  if (challenge.acrValues) parts.push(`acr_values=${quote(challenge.acrValues)}`)
  // RFC 9470 §3: max_age is a bare integer (a token, not a quoted string).
  if (challenge.maxAge !== undefined) parts.push(`max_age=${Math.max(0, Math.floor(challenge.maxAge))}`)
  return `Bearer ${parts.join(', ')}`
}

// Rejections that repeat (a remembered bad token, a route's missing-credentials error) are the
// same error object each time: their WWW-Authenticate value is formatted once per realm.
const challenges = new WeakMap<GatewayError, { realm: string; value: string }>()

function challengeHeader(error: GatewayError, realm: string): string {
  const known = challenges.get(error)
  if (known?.realm === realm) return known.value
  const list = Array.isArray(error.challenge) ? error.challenge : [error.challenge as Challenge]
  const value = list.map((challenge) => formatChallenge(challenge, realm)).join(', ')
  challenges.set(error, { realm, value })
  return value
}

/**
 * `Retry-After` of a 503 storage_unavailable that did not set its own (RFC 9110 §10.2.3): D1
 * sheds load with "overloaded" while its queue is full and recovers in seconds, so a client is
 * told to come back after a short pause instead of retrying at once into the same queue.
 */
export const STORAGE_RETRY_AFTER_SECONDS = 5

function retryAfterOf(error: GatewayError | undefined): number | undefined {
  if (error?.retryAfter !== undefined) return error.retryAfter
  return error?.code === 'storage_unavailable' ? STORAGE_RETRY_AFTER_SECONDS : undefined
}

function describeCause(cause: unknown): Record<string, unknown> {
  if (cause instanceof Error) return { cause: cause.name, cause_message: cause.message }
  return cause === undefined ? {} : { cause: String(cause) }
}

/**
 * The single place where errors become responses. A GatewayError renders its code and description;
 * anything else is a bug or an unexpected platform failure and becomes a generic 500 whose cause
 * goes only to the log.
 */
export function renderError(error: unknown, requestId: string, realm: string = DEFAULT_REALM): Response {
  const known: GatewayError | undefined = isGatewayError(error) ? error : undefined
  const status = known?.status ?? 500
  const code = known?.code ?? 'internal_error'
  const description = known?.message ?? 'The gateway failed to handle this request.'

  if (!known || status >= 500) {
    logEvent('error', 'request_failed', {
      request_id: requestId,
      error: code,
      ...describeCause(known ? (known.cause ?? known.message) : error),
    })
  }

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-request-id': requestId,
  }
  if (known?.challenge) headers['www-authenticate'] = challengeHeader(known, realm)
  // RFC 9110 §15.5.6: a 405 lists what the resource does take, even when that is nothing.
  if (status === 405) headers.allow = (known?.allow ?? []).join(', ')
  const retryAfter = retryAfterOf(known)
  if (retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfter)))
  const fields = { error: code, error_description: description, request_id: requestId }
  const body =
    known?.jsonRpcId === undefined
      ? JSON.stringify(fields)
      : JSON.stringify({
          jsonrpc: '2.0',
          id: known.jsonRpcId,
          error: { code: jsonRpcCode(status), message: description, data: fields },
        })
  return new Response(body, { status, headers })
}

/**
 * The JSON-RPC error code of an MCP refusal: -32600 (Invalid Request) for what the client sent
 * wrong, -32603 (Internal error) for the gateway's own failures, and for the HTTP refusals an
 * implementation-defined server error (JSON-RPC 2.0 §5.1 reserves -32000 to -32099): -32000 minus
 * the last two digits of the status (401 → -32001, 403 → -32003, 429 → -32029).
 */
function jsonRpcCode(status: number): number {
  if (status >= 500) return -32603
  if (status === 400 || status === 413) return -32600
  return -32000 - (status % 100)
}
