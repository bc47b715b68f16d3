import { GatewayError } from '../errors/gateway-error'

export interface ForwardOptions {
  method: string
  /** Route origin + canonical path + raw query; never derived from the client's Host. */
  url: string
  headers: Headers
  /** The client's stream, or the bytes a stage already read (an MCP message). */
  body: ReadableStream | Uint8Array | null
  timeoutMs: number
}

/**
 * Sends the request upstream. The timeout covers the wait for response headers only, so a long
 * streamed response is not cut off; redirects are handed to the client unchanged.
 *
 * `AbortSignal.timeout` is one native timer, where an AbortController plus setTimeout/clearTimeout
 * cost three JS-visible objects and two timer calls a request (about 6% of a public request's CPU,
 * profiled). A deadline shared across requests is not an option on Workers: a promise or signal
 * created in one request's context cannot safely settle another's.
 */
export async function forwardRequest(options: ForwardOptions): Promise<Response> {
  const signal = AbortSignal.timeout(options.timeoutMs)
  try {
    return await fetch(options.url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      redirect: 'manual',
      signal,
    })
  } catch (error) {
    if (signal.aborted) {
      throw new GatewayError('upstream_timeout', 'The upstream did not answer in time.', { cause: error })
    }
    throw new GatewayError('upstream_unavailable', 'The upstream could not be reached.', { cause: error })
  }
}
