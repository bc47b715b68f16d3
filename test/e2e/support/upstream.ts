import type { EchoServer, ReceivedRequest } from '../../../scripts/echo-upstream'

/** What the echo upstream received for requests tagged `x-test-id: id` (empty: nothing arrived). */
export async function upstreamReceived(echo: EchoServer, id: string): Promise<ReceivedRequest[]> {
  const response = await fetch(`${echo.origin}/__requests/${encodeURIComponent(id)}`)
  return (await response.json()) as ReceivedRequest[]
}
