import type { EchoServer, ReceivedRequest } from '../../../scripts/echo-upstream'

/**
 * What the echo upstream received for requests tagged `x-test-id: id` (empty: nothing arrived).
 * Any echo upstream: one a test started, or the demo upstream `npm start` runs (the same server).
 */
export async function upstreamReceived(
  echo: Pick<EchoServer, 'origin'>,
  id: string,
): Promise<ReceivedRequest[]> {
  const response = await fetch(`${echo.origin}/__requests/${encodeURIComponent(id)}`)
  return (await response.json()) as ReceivedRequest[]
}
