import { describe, expect, it } from 'vitest'
import { FakeIdp, idpKey, jwksOf } from '../../test/support/fake-idp'
import { discoverJwksUri, fetchIssuerJwks, JwksFetchError, parseJwks } from './jwks-fetch'

const ISSUER = 'https://idp.example.test'

async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(JwksFetchError)
  return (error as Error).message
}

describe('fetching a JWKS', () => {
  it('gives up after the timeout (a hanging IdP does not hold the request)', async () => {
    const idp = new FakeIdp(undefined)
    idp.respond = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason))
      })
    const started = Date.now()
    const message = await failure(
      fetchIssuerJwks({ issuer: ISSUER, jwks_url: `${ISSUER}/jwks` }, { fetch: idp.fetch, timeoutMs: 50 }),
    )
    expect(message).toContain('timed out')
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('refuses a body over the size cap, declared or streamed', async () => {
    const big = JSON.stringify({ keys: [], pad: 'x'.repeat(70 * 1024) })
    const declared = new FakeIdp(undefined)
    declared.respond = () => new Response(big, { headers: { 'content-length': String(big.length) } })
    expect(
      await failure(
        fetchIssuerJwks({ issuer: ISSUER, jwks_url: `${ISSUER}/jwks` }, { fetch: declared.fetch }),
      ),
    ).toContain('larger than 65536 bytes')
    const streamed = new FakeIdp(undefined)
    streamed.respond = () =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (let i = 0; i < 70; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
            controller.close()
          },
        }),
      )
    expect(
      await failure(
        fetchIssuerJwks({ issuer: ISSUER, jwks_url: `${ISSUER}/jwks` }, { fetch: streamed.fetch }),
      ),
    ).toContain('larger than')
  })

  it('does not follow redirects (keys come only from the configured URL)', async () => {
    const idp = new FakeIdp(undefined)
    idp.respond = (_url, init) => {
      expect(init.redirect).toBe('manual')
      return new Response(null, { status: 302, headers: { location: 'https://attacker.test/jwks' } })
    }
    expect(
      await failure(fetchIssuerJwks({ issuer: ISSUER, jwks_url: `${ISSUER}/jwks` }, { fetch: idp.fetch })),
    ).toContain('answered 302')
    expect(idp.calls).toEqual([`${ISSUER}/jwks`])
  })

  it('refuses a body that is not JSON', async () => {
    const idp = new FakeIdp(undefined)
    idp.respond = () => new Response('<html>')
    expect(
      await failure(fetchIssuerJwks({ issuer: ISSUER, jwks_url: `${ISSUER}/jwks` }, { fetch: idp.fetch })),
    ).toContain('did not answer JSON')
  })
})

describe('parsing a JWKS', () => {
  it('keeps public RSA/EC/OKP signing keys only', async () => {
    const ec = (await idpKey('ec')).publicJwk
    const rsa = (await idpKey('rsa', 'RS256')).publicJwk
    const jwks = parseJwks({
      keys: [
        ec,
        rsa,
        { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
        { ...ec, kid: 'private', d: 'AAAA' },
        { ...ec, kid: 'enc', use: 'enc' },
        { kty: 'EC', kid: 'incomplete' },
        'not a key',
      ],
    })
    expect(jwks.keys.map((key) => key.kid)).toEqual(['ec', 'rsa', 'incomplete'])
  })

  it.each([
    ['a symmetric-only set', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }],
    ['an empty set', { keys: [] }],
    ['a bare key', { kty: 'EC' }],
    ['an array', [{ kty: 'EC' }]],
    ['null', null],
  ])('refuses %s', (_name, document) => {
    expect(() => parseJwks(document)).toThrow(JwksFetchError)
  })
})

describe('discovery', () => {
  const discovery = `${ISSUER}/.well-known/openid-configuration`

  it('follows jwks_uri from a document whose issuer matches', async () => {
    const jwks = jwksOf(await idpKey('k1'))
    const idp = new FakeIdp(undefined)
    idp.respond = (url) =>
      Response.json(url === discovery ? { issuer: ISSUER, jwks_uri: `${ISSUER}/keys` } : jwks)
    const result = await fetchIssuerJwks({ issuer: ISSUER, discovery_url: discovery }, { fetch: idp.fetch })
    expect(result.keys.map((key) => key.kid)).toEqual(['k1'])
    expect(idp.calls).toEqual([discovery, `${ISSUER}/keys`])
  })

  it('refuses a document naming another issuer (mix-up: one IdP vouching for keys of another)', async () => {
    const idp = new FakeIdp({ issuer: 'https://other.example.test', jwks_uri: `${ISSUER}/keys` })
    expect(
      await failure(discoverJwksUri({ issuer: ISSUER, discovery_url: discovery }, { fetch: idp.fetch })),
    ).toContain('another issuer')
    expect(idp.calls).toHaveLength(1)
  })

  it('refuses a jwks_uri on another origin (no fetches to hosts nobody configured)', async () => {
    for (const jwksUri of [
      'https://attacker.test/keys',
      'http://idp.example.test/keys',
      'https://idp.example.test:8443/k',
    ]) {
      const idp = new FakeIdp({ issuer: ISSUER, jwks_uri: jwksUri })
      expect(
        await failure(discoverJwksUri({ issuer: ISSUER, discovery_url: discovery }, { fetch: idp.fetch })),
      ).toContain('not on the discovery document origin')
      expect(idp.calls).toHaveLength(1)
    }
  })

  it('refuses a document without a usable jwks_uri', async () => {
    for (const document of [{ issuer: ISSUER }, { issuer: ISSUER, jwks_uri: 'not a url' }, ['x']]) {
      const idp = new FakeIdp(document)
      await failure(discoverJwksUri({ issuer: ISSUER, discovery_url: discovery }, { fetch: idp.fetch }))
    }
  })
})
