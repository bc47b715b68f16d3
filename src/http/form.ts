import { GatewayError } from '../errors/gateway-error'
import { readCappedBody } from './capped-body'

/** Request bodies of the gateway's own endpoints are small; larger ones are refused unread. */
export const MAX_FORM_BYTES = 16 * 1024

function tooLarge(): GatewayError {
  return new GatewayError('payload_too_large', 'The request body is too large.')
}

/** The body, counted as it arrives (http/capped-body.ts); an honest oversized declaration is refused unread. */
async function readCappedBytes(request: Request): Promise<Uint8Array> {
  if (Number(request.headers.get('content-length') ?? 0) > MAX_FORM_BYTES) throw tooLarge()
  const bytes = await readCappedBody(request.body as ReadableStream<Uint8Array> | null, MAX_FORM_BYTES)
  if (bytes === undefined) throw tooLarge()
  return bytes
}

async function readLimitedText(request: Request): Promise<string> {
  const bytes = await readCappedBytes(request)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw new GatewayError('invalid_request', 'The request body is not valid UTF-8.')
  }
}

function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

function parseForm(text: string): URLSearchParams {
  const form = new URLSearchParams(text)
  const seen = new Set<string>()
  for (const key of form.keys()) {
    // RFC 6749 §3.2: parameters must not be included more than once.
    if (seen.has(key))
      throw new GatewayError('invalid_request', `The parameter "${key.slice(0, 64)}" is repeated.`)
    seen.add(key)
  }
  return form
}

/** An `application/x-www-form-urlencoded` body (the OAuth endpoints accept nothing else). */
export async function readForm(request: Request): Promise<URLSearchParams> {
  if (mediaType(request) !== 'application/x-www-form-urlencoded') {
    throw new GatewayError('invalid_request', 'The body must be application/x-www-form-urlencoded.')
  }
  return parseForm(await readLimitedText(request))
}

/** A JSON object or a form body, as string fields (register, password change, API keys). */
export async function readFields(request: Request): Promise<Record<string, unknown>> {
  const type = mediaType(request)
  const text = await readLimitedText(request)
  if (type === 'application/json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new GatewayError('invalid_request', 'The body is not valid JSON.')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new GatewayError('invalid_request', 'The body must be a JSON object.')
    }
    return parsed as Record<string, unknown>
  }
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(parseForm(text))
  throw new GatewayError('invalid_request', 'The body must be JSON or application/x-www-form-urlencoded.')
}
