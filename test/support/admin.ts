import { env } from 'cloudflare:test'
import type { AuditEvent } from '../../src/audit/events'
import { queryAuditEvents } from '../../src/audit/store'
import { bearer, createUser, login } from './accounts'
import { gatewayFetch } from './gateway'

/** An admin (role admin) and a fresh access token; `name` must be unique in the test file. */
export async function adminToken(name: string): Promise<{ id: string; token: string }> {
  const user = await createUser(name, ['admin'])
  return { id: user.id, token: (await login(name)).access_token }
}

/** A request to the admin API with a bearer token and, for a body, JSON. */
export function adminFetch(
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const headers: Record<string, string> = token ? bearer(token) : {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return gatewayFetch(path, { method, headers, body: payload, redirect: 'manual' })
}

export async function adminJson<T = Record<string, unknown>>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  status = 200,
): Promise<T> {
  const response = await adminFetch(token, method, path, body)
  const text = await response.text()
  if (response.status !== status) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return (text ? JSON.parse(text) : undefined) as T
}

/** Every stored audit row, oldest first. */
export async function auditRows(): Promise<AuditEvent[]> {
  // The storage module's own reader (`after` = oldest first), so tests see rows as the API does.
  return queryAuditEvents(env.DB, { after: '', limit: 100_000 })
}

/**
 * Waits for an audit event: they are written after the response (waitUntil), so a test polls D1
 * for up to two seconds instead of reading it at once.
 */
export async function waitForAudit(
  match: (event: AuditEvent) => boolean,
  timeoutMs = 2_000,
): Promise<AuditEvent> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = (await auditRows()).find(match)
    if (found) return found
    if (Date.now() > deadline) throw new Error('audit event not found')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
