import type { Principal } from '../authz/principal'
import { scopesForRoles } from '../authz/scopes'
import type { CredentialInput } from '../credential-input'
import { timingSafeEqual } from '../crypto/bytes'
import { memoizedSha256Hex } from '../crypto/hash-memo'
import { GatewayError } from '../errors/gateway-error'
import { readApiKey } from './cache'
import { apiKeyId } from './format'
import { actingRoles } from './key-roles'
import { touchApiKey } from './store'

export const API_KEY_HEADER = 'x-api-key'
const LAST_USED_INTERVAL_SECONDS = 60

function invalidKey(): GatewayError {
  return new GatewayError('invalid_credentials', 'The API key is invalid, expired or revoked.', {
    challenge: { scheme: 'ApiKey' },
  })
}

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined
  for (const pair of header.split(';')) {
    const index = pair.indexOf('=')
    if (index > 0 && pair.slice(0, index).trim() === name) return pair.slice(index + 1).trim()
  }
  return undefined
}

/**
 * The API key from the sources the route enables. Every enabled source is read: the same key in
 * several is one credential, but two different keys are a conflict and the request is rejected
 * (as a stale key cookie next to a fresh header must not be settled by picking one).
 */
function presentedKey(input: CredentialInput): string | undefined {
  const { request, apiKeySources, apiKeyParam } = input
  const found = new Set<string>()
  if (apiKeySources.includes('header')) {
    const value = request.headers.get(API_KEY_HEADER)
    if (value !== null) found.add(value)
  }
  if (apiKeySources.includes('query')) {
    for (const value of new URL(request.url).searchParams.getAll(apiKeyParam)) found.add(value)
  }
  if (apiKeySources.includes('cookie')) {
    const value = readCookie(request.headers.get('cookie'), apiKeyParam)
    if (value !== undefined) found.add(value)
  }
  if (found.size > 1) throw invalidKey()
  return found.values().next().value
}

// Per isolate: when each key's last-used time was last written, so D1 sees at most one write a
// minute per key per isolate (and the UPDATE's own condition makes extra writers no-ops).
const lastTouched = new Map<string, number>()

function touchLater(input: CredentialInput, id: string, userId: string, now: number): void {
  const previous = lastTouched.get(id) ?? 0
  if (now - previous < LAST_USED_INTERVAL_SECONDS) return
  if (lastTouched.size > 10_000) lastTouched.clear()
  lastTouched.set(id, now)
  input.waitUntil(touchApiKey(input.env.DB, id, now).catch(() => undefined))
  // As often as last_used_at is written: a key's use is audited, not each request it makes.
  input.audit?.record({ type: 'api_key_used', actorId: userId, subjectId: userId, details: { key_id: id } })
}

// The principal built from a cached key record, per record object: while the isolate reuses a
// record (at most API_KEY_ISOLATE_CACHE_MS) its requests share one principal. The hash, the
// tombstone and the expiry are still checked on every request, before this; a WeakMap, so entries
// die with their record.
const principals = new WeakMap<object, { config: object; principal: Principal }>()

/** Loader for `api_key`: a KV-cached record, no D1 read on the hot path (D1 on strict routes). */
export async function loadApiKey(input: CredentialInput): Promise<Principal | undefined> {
  const key = presentedKey(input)
  if (key === undefined) return undefined
  const id = apiKeyId(key)
  if (!id) throw invalidKey()
  const record = await readApiKey(input.env, id, input.strictRevocation)
  const presentedHash = await memoizedSha256Hex(key)
  const now = Math.floor(Date.now() / 1000)
  if (!record || !timingSafeEqual(presentedHash, record.keyHash) || record.dead) throw invalidKey()
  if (record.expiresAt !== null && record.expiresAt <= now) throw invalidKey()
  if (!input.observeOnly) touchLater(input, id, record.userId, now)
  // The key's own roles (those the owner still holds) or the owner's current roles, and the key's
  // scopes capped by what those roles allow.
  const { config } = input
  const known = principals.get(record)
  if (known?.config === config) return known.principal
  const roles = actingRoles(record.roles, record.keyRoles, config.roleClosure)
  const allowed = scopesForRoles(roles, config.roleClosure, config.settings.role_scopes)
  const principal: Principal = {
    method: 'api_key',
    id: record.userId,
    username: record.username,
    roles,
    scopes: record.scopes.filter((scope) => allowed.has(scope)),
    expiresAt: record.expiresAt ?? undefined,
  }
  principals.set(record, { config, principal })
  return principal
}
