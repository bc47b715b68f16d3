import { createLocalJWKSet, type JSONWebKeySet } from 'jose'
import { jwksKey, kvTtl } from '../db/kv-keys'
import { GatewayError } from '../errors/gateway-error'
import { logEvent } from '../log'
import { fetchIssuerJwks, type JwksFetchOptions, type JwksSource, parseJwks } from './jwks-fetch'

/** An external issuer as far as its keys are concerned (a subset of ExternalIssuerConfig). */
export interface JwksIssuer extends JwksSource {
  name: string
  /** How long a fetched set is used before it is fetched again. */
  jwks_cache_seconds?: number
  /** Overrides the cache's cooldown for this issuer. */
  jwks_refetch_cooldown_seconds?: number
}

/** One issuer's verified-to-be-well-formed key set, ready for jose. */
export interface IssuerKeys {
  jwks: JSONWebKeySet
  getKey: ReturnType<typeof createLocalJWKSet>
  /** Seconds since epoch when this set was fetched from the issuer (by any isolate). */
  fetchedAt: number
}

export interface JwksStores {
  KV: KVNamespace
  /** Lets the KV write outlive the response; without it the write is awaited. */
  waitUntil?: (promise: Promise<unknown>) => void
}

export interface JwksCacheOptions extends JwksFetchOptions {
  /** Minimum seconds between two fetches of one issuer's keys in an isolate, whatever triggers them. */
  cooldownSeconds?: number
  /** After this, a set the issuer no longer serves is not trusted even when refetching fails. */
  maxStaleSeconds?: number
  /** Seconds since epoch; injectable so tests can move time. */
  now?: () => number
}

export const JWKS_CACHE_SECONDS = 3_600
// An attacker controls `kid`: every token with an unknown one could otherwise cost a fetch to the
// IdP. With this, a flood costs at most one fetch per issuer per isolate per 30 s, and a real key
// rotation is picked up within 30 s of the first token that uses the new key.
export const JWKS_REFETCH_COOLDOWN_SECONDS = 30
// Serving keys we could not re-confirm is availability over freshness; a day bounds how long a
// key the IdP has withdrawn (e.g. after a compromise) can keep working while its JWKS is unreachable.
export const JWKS_MAX_STALE_SECONDS = 86_400

interface StoredJwks {
  source: string
  fetchedAt: number
  jwks: JSONWebKeySet
}

interface Slot {
  current?: IssuerKeys
  /** Last network attempt, successful or not: the cooldown runs from here. */
  lastAttemptAt?: number
  lastKvReadAt?: number
  kvRead?: Promise<void>
  inflight?: Promise<IssuerKeys | undefined>
}

/** The configuration a cached set belongs to: a changed URL or issuer must not reuse old keys. */
function sourceOf(issuer: JwksIssuer): string {
  return [issuer.name, issuer.issuer, issuer.jwks_url ?? '', issuer.discovery_url ?? ''].join('\n')
}

function toKeys(jwks: JSONWebKeySet, fetchedAt: number): IssuerKeys {
  return { jwks, getKey: createLocalJWKSet(jwks), fetchedAt }
}

function unavailable(retryAfter: number): GatewayError {
  return new GatewayError(
    'jwks_unavailable',
    "The token issuer's signing keys are unavailable; try again shortly.",
    {
      retryAfter,
    },
  )
}

/**
 * Per-isolate cache of external issuers' key sets, backed by KV so a fresh isolate does not have
 * to go to the IdP. Memory first, then KV, then the network; one fetch at a time per issuer, and
 * never more than one per cooldown. KV is a cache of the IdP here, not a truth: a KV failure only
 * costs a fetch, and KV's eventual consistency only means another location may fetch too.
 */
export class JwksCache {
  private readonly slots = new Map<string, Slot>()
  private readonly cooldown: number
  private readonly maxStale: number
  private readonly now: () => number

  constructor(private readonly options: JwksCacheOptions = {}) {
    this.cooldown = options.cooldownSeconds ?? JWKS_REFETCH_COOLDOWN_SECONDS
    this.maxStale = options.maxStaleSeconds ?? JWKS_MAX_STALE_SECONDS
    this.now = options.now ?? (() => Date.now() / 1000)
  }

  /** The issuer's keys; throws 503 `jwks_unavailable` when none can be had. */
  async keys(issuer: JwksIssuer, stores: JwksStores): Promise<IssuerKeys> {
    const slot = this.slotOf(issuer)
    if (slot.current && this.isFresh(issuer, slot.current)) return slot.current
    await this.adoptStored(issuer, stores, slot)
    if (slot.current && this.isFresh(issuer, slot.current)) return slot.current
    const fetched = await this.refetch(issuer, stores, slot)
    if (fetched) return fetched
    const current = slot.current
    if (current && this.now() - current.fetchedAt <= this.maxStale) return current
    throw unavailable(this.cooldownOf(issuer))
  }

  /**
   * Called when a token's `kid` matched none of `seen`: the issuer may have rotated. Returns a
   * newer set, or undefined when there is none (within the cooldown, or the fetch failed: the
   * cached keys stay in use).
   */
  async refreshForUnknownKid(
    issuer: JwksIssuer,
    stores: JwksStores,
    seen: IssuerKeys,
  ): Promise<IssuerKeys | undefined> {
    const slot = this.slotOf(issuer)
    if (slot.current && slot.current !== seen) return slot.current
    const fetched = await this.refetch(issuer, stores, slot)
    return fetched && fetched !== seen ? fetched : undefined
  }

  private slotOf(issuer: JwksIssuer): Slot {
    const source = sourceOf(issuer)
    let slot = this.slots.get(source)
    if (!slot) {
      slot = {}
      this.slots.set(source, slot)
    }
    return slot
  }

  private isFresh(issuer: JwksIssuer, keys: IssuerKeys): boolean {
    return this.now() - keys.fetchedAt < (issuer.jwks_cache_seconds ?? JWKS_CACHE_SECONDS)
  }

  private cooldownOf(issuer: JwksIssuer): number {
    return issuer.jwks_refetch_cooldown_seconds ?? this.cooldown
  }

  private coolingDown(issuer: JwksIssuer, slot: Slot): boolean {
    const last = Math.max(slot.lastAttemptAt ?? -Infinity, slot.current?.fetchedAt ?? -Infinity)
    return this.now() - last < this.cooldownOf(issuer)
  }

  /** Takes the KV copy when it is newer than ours (another isolate fetched it); once per cooldown. */
  private adoptStored(issuer: JwksIssuer, stores: JwksStores, slot: Slot): Promise<void> {
    if (slot.kvRead) return slot.kvRead
    const now = this.now()
    if (slot.lastKvReadAt !== undefined && now - slot.lastKvReadAt < this.cooldownOf(issuer))
      return Promise.resolve()
    slot.lastKvReadAt = now
    slot.kvRead = this.readStored(issuer, stores, slot).finally(() => {
      slot.kvRead = undefined
    })
    return slot.kvRead
  }

  private async readStored(issuer: JwksIssuer, stores: JwksStores, slot: Slot): Promise<void> {
    try {
      const stored = await stores.KV.get<StoredJwks>(jwksKey(issuer.name), 'json')
      if (!stored || stored.source !== sourceOf(issuer) || typeof stored.fetchedAt !== 'number') return
      if (slot.current && stored.fetchedAt <= slot.current.fetchedAt) return
      slot.current = toKeys(parseJwks(stored.jwks), stored.fetchedAt)
    } catch (error) {
      logEvent('warn', 'jwks_kv_read_failed', { issuer: issuer.name, reason: String(error) })
    }
  }

  /** One network fetch per issuer at a time and per cooldown; undefined when none was made or it failed. */
  private refetch(issuer: JwksIssuer, stores: JwksStores, slot: Slot): Promise<IssuerKeys | undefined> {
    if (slot.inflight) return slot.inflight
    if (this.coolingDown(issuer, slot)) return Promise.resolve(undefined)
    slot.lastAttemptAt = this.now()
    slot.inflight = this.fetchAndStore(issuer, stores, slot).finally(() => {
      slot.inflight = undefined
    })
    return slot.inflight
  }

  private async fetchAndStore(
    issuer: JwksIssuer,
    stores: JwksStores,
    slot: Slot,
  ): Promise<IssuerKeys | undefined> {
    let keys: IssuerKeys
    try {
      keys = toKeys(await fetchIssuerJwks(issuer, this.options), this.now())
    } catch (error) {
      logEvent('warn', 'jwks_fetch_failed', {
        issuer: issuer.name,
        reason: error instanceof Error ? error.message : String(error),
        serving_cached: slot.current !== undefined,
      })
      return undefined
    }
    slot.current = keys
    const stored: StoredJwks = { source: sourceOf(issuer), fetchedAt: keys.fetchedAt, jwks: keys.jwks }
    // Kept as long as a stale set may be served; `fetchedAt` decides freshness, not the KV TTL.
    const write = stores.KV.put(jwksKey(issuer.name), JSON.stringify(stored), {
      expirationTtl: kvTtl(this.maxStale),
    }).catch((error: unknown) => {
      logEvent('warn', 'jwks_kv_write_failed', { issuer: issuer.name, reason: String(error) })
    })
    if (stores.waitUntil) stores.waitUntil(write)
    else await write
    return keys
  }
}

/** The isolate's cache, shared by every request it serves. */
export const jwksCache = new JwksCache()
