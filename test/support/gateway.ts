import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test'
import { inject } from 'vitest'
import { createApp } from '../../src/app'
import type { Env } from '../../src/env'

export const UPSTREAM = inject('upstreamOrigin')
export const GATEWAY = 'http://gateway.test'

/** A request through the real Worker entry (wrangler.toml bindings, real D1/KV). */
export function gatewayFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`${GATEWAY}${path}`, init)
}

/** A request through a fresh app with some bindings replaced (another route table, a failing KV...). */
export async function fetchWithEnv(
  overrides: Partial<Env>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await createApp().fetch(
    new Request(`${GATEWAY}${path}`, init),
    { ...env, ...overrides },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

export interface Received {
  method: string
  url: string
  path: string
  query: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  body: string
  bodyBytes: number
}

/** What the test upstream received for requests tagged with `x-test-id: id`. */
export async function upstreamReceived(id: string): Promise<Received[]> {
  const response = await fetch(`${UPSTREAM}/__requests/${encodeURIComponent(id)}`)
  return (await response.json()) as Received[]
}

export function testId(): string {
  return crypto.randomUUID()
}
