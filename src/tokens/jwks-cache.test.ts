import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { FakeIdp, idpKey, jwksOf } from '../../test/support/fake-idp'
import { jwksKey } from '../db/kv-keys'
import { GatewayError } from '../errors/gateway-error'
import { type IssuerKeys, JwksCache, type JwksCacheOptions, type JwksIssuer } from './jwks-cache'

let counter = 0
function issuer(overrides: Partial<JwksIssuer> = {}): JwksIssuer {
  counter += 1
  return {
    name: `idp-${counter}-${crypto.randomUUID().slice(0, 8)}`,
    issuer: 'https://idp.example.test',
    jwks_url: 'https://idp.example.test/jwks',
    ...overrides,
  }
}

/** A clock the test moves by hand. */
function clock(start = 1_800_000_000) {
  let now = start
  return { now: () => now, advance: (seconds: number) => (now += seconds) }
}

function cacheWith(idp: FakeIdp, time = clock(), options: JwksCacheOptions = {}) {
  return { cache: new JwksCache({ fetch: idp.fetch, now: time.now, ...options }), time }
}

const stores = { KV: env.KV }

function kids(keys: IssuerKeys): unknown[] {
  return keys.jwks.keys.map((key) => key.kid)
}

async function unavailable(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(GatewayError)
  return error as GatewayError
}

describe('loading keys', () => {
  it('fetches once, then serves from memory', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache } = cacheWith(idp)
    const config = issuer()
    expect(kids(await cache.keys(config, stores))).toEqual(['k1'])
    await cache.keys(config, stores)
    await cache.keys(config, stores)
    expect(idp.calls).toEqual(['https://idp.example.test/jwks'])
  })

  it('makes one fetch for many concurrent first requests', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache } = cacheWith(idp)
    const config = issuer()
    await Promise.all(Array.from({ length: 50 }, () => cache.keys(config, stores)))
    expect(idp.calls).toHaveLength(1)
  })

  it('writes the set to KV, so another isolate starts without fetching', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const time = clock()
    const config = issuer()
    await cacheWith(idp, time).cache.keys(config, stores)
    const stored = await env.KV.get<{ fetchedAt: number }>(jwksKey(config.name), 'json')
    expect(stored?.fetchedAt).toBe(time.now())

    const otherIsolate = new FakeIdp(jwksOf(await idpKey('other')))
    const keys = await cacheWith(otherIsolate, time).cache.keys(config, stores)
    expect(kids(keys)).toEqual(['k1'])
    expect(otherIsolate.calls).toHaveLength(0)
  })

  it('ignores a KV copy written for another URL of the same issuer name', async () => {
    const time = clock()
    const config = issuer()
    await cacheWith(new FakeIdp(jwksOf(await idpKey('old'))), time).cache.keys(config, stores)
    const moved = new FakeIdp(jwksOf(await idpKey('new')))
    const keys = await cacheWith(moved, time).cache.keys(
      { ...config, jwks_url: 'https://idp.example.test/v2/jwks' },
      stores,
    )
    expect(kids(keys)).toEqual(['new'])
    expect(moved.calls).toEqual(['https://idp.example.test/v2/jwks'])
  })

  it('refetches after jwks_cache_seconds', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache, time } = cacheWith(idp)
    const config = issuer({ jwks_cache_seconds: 600 })
    await cache.keys(config, stores)
    time.advance(599)
    await cache.keys(config, stores)
    expect(idp.calls).toHaveLength(1)
    idp.jwks = jwksOf(await idpKey('k2'))
    time.advance(2)
    expect(kids(await cache.keys(config, stores))).toEqual(['k2'])
    expect(idp.calls).toHaveLength(2)
  })
})

describe('an unknown kid', () => {
  it('from 100 tokens with random kids causes at most one fetch per cooldown', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache, time } = cacheWith(idp)
    const config = issuer()
    const first = await cache.keys(config, stores)
    // Within the cooldown of the first fetch: no fetch at all.
    for (let i = 0; i < 100; i++)
      expect(await cache.refreshForUnknownKid(config, stores, first)).toBeUndefined()
    expect(idp.calls).toHaveLength(1)
    // After it: one fetch for the whole flood, concurrent or not.
    time.advance(31)
    await Promise.all(Array.from({ length: 100 }, () => cache.refreshForUnknownKid(config, stores, first)))
    for (let i = 0; i < 100; i++) await cache.refreshForUnknownKid(config, stores, first)
    expect(idp.calls).toHaveLength(2)
  })

  it('picks up a rotated key once the cooldown has passed', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache, time } = cacheWith(idp)
    const config = issuer({ jwks_refetch_cooldown_seconds: 10 })
    const first = await cache.keys(config, stores)
    idp.jwks = jwksOf(await idpKey('k1'), await idpKey('k2'))
    time.advance(10)
    const refreshed = await cache.refreshForUnknownKid(config, stores, first)
    expect(refreshed && kids(refreshed)).toEqual(['k1', 'k2'])
    // Callers holding the old set get the new one without another fetch.
    expect(await cache.refreshForUnknownKid(config, stores, first)).toBe(refreshed)
    expect(idp.calls).toHaveLength(2)
  })

  it('keeps serving the cached keys when the refetch fails', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache, time } = cacheWith(idp)
    const config = issuer()
    const first = await cache.keys(config, stores)
    idp.respond = () => new Response('down', { status: 503 })
    time.advance(31)
    expect(await cache.refreshForUnknownKid(config, stores, first)).toBeUndefined()
    expect(await cache.keys(config, stores)).toBe(first)
    expect(idp.calls).toHaveLength(2)
  })
})

describe('when keys cannot be had', () => {
  it('answers 503 jwks_unavailable with nothing cached, and does not refetch within the cooldown', async () => {
    const idp = new FakeIdp(undefined)
    idp.respond = () => Promise.reject(new TypeError('connection refused'))
    const { cache, time } = cacheWith(idp)
    const config = issuer()
    const error = await unavailable(cache.keys(config, stores))
    expect(error.code).toBe('jwks_unavailable')
    expect(error.status).toBe(503)
    expect(error.retryAfter).toBe(30)
    await unavailable(cache.keys(config, stores))
    expect(idp.calls).toHaveLength(1)
    // Once the IdP is back and the cooldown over, keys load again.
    idp.jwks = jwksOf(await idpKey('k1'))
    idp.respond = () => Response.json(idp.jwks)
    time.advance(30)
    expect(kids(await cache.keys(config, stores))).toEqual(['k1'])
  })

  it('serves stale keys while the IdP is down, but not beyond maxStaleSeconds', async () => {
    const idp = new FakeIdp(jwksOf(await idpKey('k1')))
    const { cache, time } = cacheWith(idp, clock(), { maxStaleSeconds: 7_200 })
    const config = issuer({ jwks_cache_seconds: 3_600 })
    const first = await cache.keys(config, stores)
    idp.respond = () => new Response('down', { status: 500 })
    time.advance(3_601)
    expect(await cache.keys(config, stores)).toBe(first)
    time.advance(3_600)
    expect((await unavailable(cache.keys(config, stores))).code).toBe('jwks_unavailable')
  })

  it('refuses a JWKS made only of symmetric keys (503, the secret is never used)', async () => {
    const idp = new FakeIdp({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hs', alg: 'HS256' }] })
    const { cache } = cacheWith(idp)
    expect((await unavailable(cache.keys(issuer(), stores))).code).toBe('jwks_unavailable')
  })
})
