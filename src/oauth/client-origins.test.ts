import { describe, expect, it } from 'vitest'
import { cachedOriginSet, ORIGINS_FRESH_MS, ORIGINS_MISS_RELOAD_MS, originsOfClient } from './client-origins'

describe('a client’s browser origins', () => {
  it('are the origins of its http(s) redirect URIs and its allowed_origins', () => {
    const origins = originsOfClient({
      redirectUris: [
        'https://app.example.com/callback?tenant=a',
        'https://app.example.com:8443/cb',
        'http://127.0.0.1:5173/cb',
        'com.example.app:/oauth2redirect',
      ],
      allowedOrigins: ['https://static.example.net'],
    })
    expect(origins).toEqual([
      'https://app.example.com',
      'https://app.example.com:8443',
      'http://127.0.0.1:5173',
      'https://static.example.net',
    ])
  })

  it('leave out a native app’s private-use scheme (its "origin" would be the string "null")', () => {
    expect(originsOfClient({ redirectUris: ['com.example.app:/cb'], allowedOrigins: [] })).toEqual([])
  })
})

/** A cache over a loader that counts its calls, on a clock the test moves. */
function harness(sets: string[][]) {
  let time = 1_000_000
  let loads = 0
  const set = cachedOriginSet<undefined>({
    load: async () => new Set(sets[Math.min(loads++, sets.length - 1)]),
    now: () => time,
  })
  return {
    has: (origin: string) => set.has(undefined, origin),
    forget: () => set.forget(),
    advance: (ms: number) => {
      time += ms
    },
    loads: () => loads,
  }
}

describe('the isolate’s cached origin set', () => {
  it('answers a known origin from memory until it is ORIGINS_FRESH_MS old', async () => {
    const cache = harness([['https://a.example']])
    expect(await cache.has('https://a.example')).toBe(true)
    cache.advance(ORIGINS_FRESH_MS - 1)
    expect(await cache.has('https://a.example')).toBe(true)
    expect(cache.loads()).toBe(1)
  })

  it('drops a disabled client’s origin once the set is ORIGINS_FRESH_MS old', async () => {
    const cache = harness([['https://a.example', 'https://gone.example'], ['https://a.example']])
    expect(await cache.has('https://gone.example')).toBe(true)
    cache.advance(ORIGINS_FRESH_MS)
    expect(await cache.has('https://gone.example')).toBe(false)
    expect(cache.loads()).toBe(2)
  })

  it('sees a new client’s origin after ORIGINS_MISS_RELOAD_MS, not only after ORIGINS_FRESH_MS', async () => {
    const cache = harness([['https://a.example'], ['https://a.example', 'https://new.example']])
    expect(await cache.has('https://a.example')).toBe(true)
    expect(await cache.has('https://new.example')).toBe(false) // within the interval: no reload
    cache.advance(ORIGINS_MISS_RELOAD_MS)
    expect(await cache.has('https://new.example')).toBe(true)
    expect(cache.loads()).toBe(2)
  })

  it('reloads at most once per ORIGINS_MISS_RELOAD_MS for a stream of made-up origins', async () => {
    const cache = harness([['https://a.example']])
    for (let i = 0; i < 50; i++) {
      expect(await cache.has(`https://attacker-${i}.example`)).toBe(false)
      cache.advance(100) // 50 origins over 5 s
    }
    expect(cache.loads()).toBe(1)
    expect(await cache.has('https://one-more.example')).toBe(false)
    expect(cache.loads()).toBe(2)
  })

  it('shares one load among concurrent questions', async () => {
    const cache = harness([['https://a.example']])
    const answers = await Promise.all([1, 2, 3, 4].map(() => cache.has('https://a.example')))
    expect(answers).toEqual([true, true, true, true])
    expect(cache.loads()).toBe(1)
  })

  it('does not keep a failed load: the question fails, and the next one loads again', async () => {
    let calls = 0
    const set = cachedOriginSet<undefined>({
      load: async () => {
        calls += 1
        if (calls === 1) throw new Error('D1 down')
        return new Set(['https://a.example'])
      },
    })
    await expect(set.has(undefined, 'https://a.example')).rejects.toThrow('D1 down')
    expect(await set.has(undefined, 'https://a.example')).toBe(true)
    expect(calls).toBe(2)
  })

  it('forget() makes the next question load again', async () => {
    const cache = harness([['https://a.example'], ['https://b.example']])
    expect(await cache.has('https://a.example')).toBe(true)
    cache.forget()
    expect(await cache.has('https://b.example')).toBe(true)
    expect(cache.loads()).toBe(2)
  })
})
