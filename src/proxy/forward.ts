import { GatewayError } from '../errors/gateway-error'

export interface ForwardOptions {
  method: string
  /** Route origin + canonical path + raw query; never derived from the client's Host. */
  url: string
  headers: Headers
  body: ReadableStream | null
  timeoutMs: number
}

/**
 * Sends the request upstream. The timeout covers the wait for response headers only, so a long
 * streamed response is not cut off; redirects are handed to the client unchanged.
 */
export async function forwardRequest(options: ForwardOptions): Promise<Response> {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException('upstream timeout', 'TimeoutError')),
    options.timeoutMs,
  )
  try {
    return await fetch(options.url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      redirect: 'manual',
      signal: controller.signal,
    })
  } catch (error) {
    if (controller.signal.aborted) {
      throw new GatewayError('upstream_timeout', 'The upstream did not answer in time.', { cause: error })
    }
    throw new GatewayError('upstream_unavailable', 'The upstream could not be reached.', { cause: error })
  } finally {
    clearTimeout(timer)
  }
}
