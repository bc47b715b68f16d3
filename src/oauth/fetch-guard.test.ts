import { describe, expect, it } from 'vitest'
import { KV_MIN_TTL_SECONDS } from '../db/kv-keys'
import {
  DOCUMENT_CACHE_CEILING_SECONDS,
  DOCUMENT_CACHE_FLOOR_SECONDS,
  documentCacheSeconds,
} from './client-metadata-store'
import { ClientMetadataError, checkDocumentUrl, fetchDocument, isDocumentUrl } from './fetch-guard'
import { hostRefusal } from './fetch-guard-host'

// The fetch guard judged without network: URLs as a stranger writes them, and answers handed in
// through a fetcher of the test's own (a redirect, a huge body, a stalled body, the wrong type).

const NO_STAND_IN = { allowHosts: [] as string[] }

function refusal(run: () => unknown): string | undefined {
  try {
    run()
    return undefined
  } catch (error) {
    if (error instanceof ClientMetadataError) return error.code
    throw error
  }
}

async function asyncRefusal(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run()
    return undefined
  } catch (error) {
    if (error instanceof ClientMetadataError) return error.code
    throw error
  }
}

describe('the fetch guard refuses hosts that are not public', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.1', 'loopback'],
    ['10.1.2.3', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['198.18.0.1', 'benchmarking'],
  ])('IPv4 %s (%s)', (host) => {
    expect(hostRefusal(host)).toBeDefined()
  })

  it.each([
    ['[::1]', 'loopback'],
    ['[::]', 'unspecified'],
    ['[fc00::1]', 'unique-local'],
    ['[fd12:3456::1]', 'unique-local'],
    ['[fe80::1]', 'link-local'],
    ['[::ffff:7f00:1]', 'IPv4-mapped loopback, as the URL parser writes it'],
    ['[::ffff:127.0.0.1]', 'IPv4-mapped loopback, dotted'],
    ['[::ffff:a9fe:a9fe]', 'IPv4-mapped metadata address'],
    ['[::7f00:1]', 'IPv4-compatible'],
    ['[64:ff9b::a00:1]', 'NAT64 of 10.0.0.1'],
    ['[2002:a00:1::]', '6to4 of 10.0.0.1'],
    ['[2001:0:a00:1::1]', 'Teredo'],
    ['[ff02::1]', 'multicast'],
  ])('IPv6 %s (%s)', (host) => {
    expect(hostRefusal(host)).toBeDefined()
  })

  it.each([
    'localhost',
    'LOCALHOST.',
    'api.localhost',
    'printer.local',
    'metadata.google.internal',
    'intranet',
    'router.home.arpa',
  ])('the local-only or single-label name %s', (host) => {
    expect(hostRefusal(host)).toBeDefined()
  })

  it('lets public names and public addresses through', () => {
    expect(hostRefusal('client.example.com')).toBeUndefined()
    expect(hostRefusal('8.8.8.8')).toBeUndefined()
    expect(hostRefusal('[2606:4700::1111]')).toBeUndefined()
  })

  it('judges the parsed host, so other spellings of loopback are caught (0x7f.1, 2130706433, 127.1)', () => {
    for (const spelling of [
      'https://0x7f.1/c',
      'https://2130706433/c',
      'https://127.1/c',
      'https://[0:0:0:0:0:ffff:127.0.0.1]/c',
    ])
      expect(refusal(() => checkDocumentUrl(new URL(spelling).href, NO_STAND_IN))).toBe('forbidden_host')
  })
})

describe('the fetch guard refuses URLs a document may not live at', () => {
  it.each([
    ['http://client.example.com/meta.json', 'plain http'],
    ['https://user:pw@client.example.com/meta.json', 'userinfo'],
    ['https://client.example.com@evil.example/meta.json', 'userinfo without a password'],
    ['https://client.example.com/meta.json#frag', 'a fragment'],
    ['https://client.example.com:8443/meta.json', 'a port other than 443'],
    ['https://client.example.com/', 'no path'],
    ['https://client.example.com/a/../meta.json', 'dot segments (not canonical)'],
    ['https://CLIENT.example.com/meta.json', 'not canonical (upper-case host)'],
    [`https://client.example.com/${'a'.repeat(600)}`, 'too long'],
  ])('%s (%s)', (url) => {
    expect(refusal(() => checkDocumentUrl(url, NO_STAND_IN))).toBe('invalid_url')
  })

  it('refuses the loopback stand-in unless the local-only setting names it', () => {
    const standIn = 'http://127.0.0.1:8788/__documents/app'
    expect(isDocumentUrl(standIn, NO_STAND_IN)).toBe(false)
    expect(refusal(() => checkDocumentUrl(standIn, NO_STAND_IN))).toBe('invalid_url')
    expect(refusal(() => checkDocumentUrl('https://127.0.0.1/__documents/app', NO_STAND_IN))).toBe(
      'forbidden_host',
    )
    const allowed = { allowHosts: ['127.0.0.1:8788'] }
    expect(isDocumentUrl(standIn, allowed)).toBe(true)
    expect(checkDocumentUrl(standIn, allowed).host).toBe('127.0.0.1:8788')
    // Only that host and port: the same address on another port is still refused.
    expect(refusal(() => checkDocumentUrl('https://127.0.0.1:9999/x', allowed))).toBe('invalid_url')
  })

  it('accepts an https URL with a path on a public name', () => {
    expect(checkDocumentUrl('https://client.example.com/oauth/meta.json', NO_STAND_IN).hostname).toBe(
      'client.example.com',
    )
  })
})

const URL_OK = new URL('https://client.example.com/meta.json')

function answer(body: BodyInit | null, init: ResponseInit): typeof fetch {
  return async () => new Response(body, init)
}

describe('the guarded GET', () => {
  it('asks for no redirect to be followed, and refuses a redirect answer', async () => {
    let seen: RequestInit | undefined
    const fetcher: typeof fetch = async (_input, init) => {
      seen = init
      return new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/' } })
    }
    expect(await asyncRefusal(() => fetchDocument(URL_OK, { ...NO_STAND_IN, fetcher }))).toBe('redirect')
    expect(seen?.redirect).toBe('manual')
  })

  it('refuses a non-200 answer, a wrong content type, and a non-JSON-ish one', async () => {
    const json = { 'content-type': 'application/json' }
    expect(
      await asyncRefusal(() =>
        fetchDocument(URL_OK, { ...NO_STAND_IN, fetcher: answer('{}', { status: 404, headers: json }) }),
      ),
    ).toBe('http_status')
    for (const type of ['text/html', 'text/plain', '', 'application/jsonx'])
      expect(
        await asyncRefusal(() =>
          fetchDocument(URL_OK, {
            ...NO_STAND_IN,
            fetcher: answer('{}', { headers: { 'content-type': type } }),
          }),
        ),
      ).toBe('content_type')
    const ok = await fetchDocument(URL_OK, {
      ...NO_STAND_IN,
      fetcher: answer('{"a":1}', {
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=600' },
      }),
    })
    expect(new TextDecoder().decode(ok.body)).toBe('{"a":1}')
    expect(ok.cacheControl).toBe('max-age=600')
  })

  it('refuses an oversize document, declared or streamed without a length', async () => {
    const json = { 'content-type': 'application/json' }
    const big = 'x'.repeat(6 * 1024)
    expect(
      await asyncRefusal(() =>
        fetchDocument(URL_OK, {
          ...NO_STAND_IN,
          fetcher: answer(big, { headers: { ...json, 'content-length': String(big.length) } }),
        }),
      ),
    ).toBe('too_large')
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1
        controller.enqueue(new Uint8Array(1024))
      },
    })
    expect(
      await asyncRefusal(() =>
        fetchDocument(URL_OK, { ...NO_STAND_IN, fetcher: answer(endless, { headers: json }) }),
      ),
    ).toBe('too_large')
    // It stopped reading just past the 5 KB cap, not at the end of the (endless) stream.
    expect(pulled).toBeLessThan(10)
  })

  it('gives up after the timeout, on a host that never answers and on a body that stalls', async () => {
    const never: typeof fetch = () => new Promise<Response>(() => undefined)
    const started = Date.now()
    expect(
      await asyncRefusal(() => fetchDocument(URL_OK, { ...NO_STAND_IN, fetcher: never, timeoutMs: 100 })),
    ).toBe('timeout')
    expect(Date.now() - started).toBeLessThan(2_000)
    const stalled = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) })
    expect(
      await asyncRefusal(() =>
        fetchDocument(URL_OK, {
          ...NO_STAND_IN,
          fetcher: answer(stalled, { headers: { 'content-type': 'application/json' } }),
          timeoutMs: 100,
        }),
      ),
    ).toBe('timeout')
  })

  it('turns a network failure into fetch_failed', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('connection refused')
    }
    expect(await asyncRefusal(() => fetchDocument(URL_OK, { ...NO_STAND_IN, fetcher: failing }))).toBe(
      'fetch_failed',
    )
  })
})

describe('how long a document is kept', () => {
  it('honours max-age within the floor and the ceiling, and never goes below KV minimum TTL', () => {
    expect(documentCacheSeconds('public, max-age=1200')).toBe(1200)
    expect(documentCacheSeconds('max-age=10')).toBe(DOCUMENT_CACHE_FLOOR_SECONDS)
    expect(documentCacheSeconds('max-age=0')).toBe(DOCUMENT_CACHE_FLOOR_SECONDS)
    expect(documentCacheSeconds('no-store')).toBe(DOCUMENT_CACHE_FLOOR_SECONDS)
    expect(documentCacheSeconds('max-age=31536000')).toBe(DOCUMENT_CACHE_CEILING_SECONDS)
    expect(documentCacheSeconds(null)).toBe(3_600)
    for (const header of ['max-age=0', 'no-cache', 'max-age=1', null])
      expect(documentCacheSeconds(header)).toBeGreaterThanOrEqual(KV_MIN_TTL_SECONDS)
  })
})
