import { env } from 'cloudflare:test'
import { bearer } from './accounts'
import { gatewayFetch } from './gateway'

export interface CreatedKey {
  id: string
  key: string
  name: string
  scopes: string[]
  roles: string[] | null
  expires_at: number | null
}

/** POST /auth/api-keys with the owner's access token; returns the raw response. */
export function requestApiKey(accessToken: string, body: Record<string, unknown>): Promise<Response> {
  return gatewayFetch('/auth/api-keys', {
    method: 'POST',
    headers: { ...bearer(accessToken), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** Creates a key through the self-service endpoint; throws unless it succeeds. */
export async function createApiKey(accessToken: string, body: Record<string, unknown>): Promise<CreatedKey> {
  const response = await requestApiKey(accessToken, body)
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`)
  return (await response.json()) as CreatedKey
}

import type { ApiKeyRow } from '../../src/api-keys/store'

export type { ApiKeyRow }

/** The api_keys row as D1 holds it (undefined when there is none). */
export async function apiKeyRow(id: string): Promise<ApiKeyRow | undefined> {
  const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?1').bind(id).first<ApiKeyRow>()
  return row ?? undefined
}
