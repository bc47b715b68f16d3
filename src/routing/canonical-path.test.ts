import { env, SELF } from 'cloudflare:test'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { testId, upstreamReceived } from '../../test/support/gateway'
import { type CompiledRoute, parseConfig } from '../config/load'
import { GatewayError } from '../errors/gateway-error'
import { authorizedPath } from '../proxy/gateway'
import { type CanonicalPath, canonicalizePath, MAX_PATH_LENGTH, splitRequestUrl } from './canonical-path'
import type { RouteTable } from './route-table'

function rejection(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    return error instanceof GatewayError ? error.code : `unexpected ${String(error)}`
  }
  return undefined
}

function defaultRouteTable(): RouteTable<CompiledRoute> {
  const result = parseConfig(env)
  if (!result.ok) throw new Error(`wrangler.toml config is invalid: ${result.problems.join('; ')}`)
  return result.config.routeTable
}

/** The route prefix a path matches in the shipped table, or the error code it gets. */
function matchOutcome(table: RouteTable<CompiledRoute>, path: CanonicalPath): string {
  try {
    return table.match('GET', 'gateway.test', path).path
  } catch (error) {
    if (error instanceof GatewayError) return error.code
    throw error
  }
}

describe('canonicalizePath rejects every spelling of path traversal', () => {
  it.each([
    ['a raw dot-dot segment', '/api/public/../admin/x'],
    ['a raw dot segment', '/api/public/./admin'],
    ['a lowercase percent-encoded dot-dot', '/api/public/%2e%2e/admin/x'],
    ['an uppercase percent-encoded dot-dot', '/api/public/%2E%2E/admin'],
    ['a half-encoded dot-dot', '/api/public/.%2e/admin'],
    ['an encoded single dot', '/api/public/%2e/admin'],
    ['an encoded slash after a dot-dot', '/api/public/..%2fadmin'],
    ['an encoded slash joining two segments', '/api%2Fadmin/x'],
    ['raw backslashes with dot-dot', '/api/public\\..\\admin'],
    ['encoded backslashes with dot-dot', '/api/public%5C..%5Cadmin'],
    ['an overlong UTF-8 dot-dot (%c0%ae)', '/%c0%ae%c0%ae/api/admin'],
    ['a two-dot leader that NFKC folds into ".."', '/api/public/%E2%80%A5/admin'],
    ['fullwidth full stops that NFKC folds into ".."', '/api/public/%EF%BC%8E%EF%BC%8E/admin'],
    ['a fullwidth solidus that NFKC folds into "/"', '/api/public%EF%BC%8F..%EF%BC%8Fadmin'],
    ['a fullwidth reverse solidus that NFKC folds into "\\"', '/api/public%EF%BC%BC..'],
  ])('rejects %s (%s) as invalid_path', (_name, raw) => {
    expect(rejection(() => canonicalizePath(raw))).toBe('invalid_path')
  })
})

describe('canonicalizePath rejects segment tricks that upstreams read differently', () => {
  it.each([
    ['a leading empty segment that looks like a scheme-relative URL', '//api/admin/x'],
    ['an empty inner segment', '/api/admin//x'],
    ['a matrix parameter on a protected segment', '/api/admin;x=1/y'],
    ['a semicolon that Tomcat strips before a dot-dot', '/api/public;/../admin'],
    ['an encoded semicolon', '/api/admin%3Bx'],
    ['a fullwidth semicolon that NFKC folds into ";"', '/api/admin%EF%BC%9Bx'],
  ])('rejects %s (%s) as invalid_path', (_name, raw) => {
    expect(rejection(() => canonicalizePath(raw))).toBe('invalid_path')
  })
})

describe('canonicalizePath rejects bytes and encodings that cannot be decided on', () => {
  it.each([
    ['an encoded NUL', '/api/%00admin'],
    ['an encoded DEL', '/api/%7Fadmin'],
    ['an encoded line feed', '/api/admin%0A'],
    ['a raw NUL', '/api/admin\u0000'],
    ['a raw tab', '/api/ad\tmin'],
    ['a raw carriage return and line feed', '/api/admin\r\nX-Auth-User: root'],
    ['a raw DEL', '/api/admin\u007f'],
    ['a raw space', '/api/ad min'],
    ['raw non-ASCII that was never percent-encoded', '/api/café'],
    ['a non-hex percent-encoding', '/api/%zz'],
    ['a truncated percent-encoding', '/api/%4'],
    ['a lone percent sign', '/api/%'],
    ['a byte that is not UTF-8', '/api/%ff'],
    ['a lone UTF-8 continuation byte', '/api/%80admin'],
    ['a raw question mark that should have started the query', '/api/admin?'],
    ['a raw hash that should have started the fragment', '/api/admin#x'],
  ])('rejects %s as invalid_path', (_name, raw) => {
    expect(rejection(() => canonicalizePath(raw))).toBe('invalid_path')
  })

  it.each([
    ['the empty string', ''],
    ['a relative path', 'api/admin'],
    ['an asterisk-form target', '*'],
    ['an absolute URL', 'http://169.254.169.254/x'],
  ])('rejects %s, which does not start with "/"', (_name, raw) => {
    expect(rejection(() => canonicalizePath(raw))).toBe('invalid_path')
  })

  it('rejects a path longer than the limit and accepts one exactly at it', () => {
    const atLimit = `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`
    expect(canonicalizePath(atLimit).path).toBe(atLimit)
    expect(rejection(() => canonicalizePath(`${atLimit}a`))).toBe('invalid_path')
  })

  it('does not echo the rejected path back in the error description', () => {
    const error = (() => {
      try {
        canonicalizePath('/api/<script>alert(1)</script>')
      } catch (caught) {
        return caught as GatewayError
      }
    })()
    expect(error?.code).toBe('invalid_path')
    expect(error?.message).not.toContain('<script>')
  })
})

describe('canonicalizePath keeps what is safe and decides on one spelling', () => {
  it.each([
    [
      'upper case, kept in the path and folded in the keys',
      '/API/ADMIN/x',
      '/API/ADMIN/x',
      ['api', 'admin', 'x'],
    ],
    ['an encoded unreserved letter spelling "admin"', '/api/%61dmin', '/api/admin', ['api', 'admin']],
    ['an encoded uppercase letter', '/api/%41DMIN', '/api/ADMIN', ['api', 'admin']],
    ['an encoded tilde', '/api/%7euser', '/api/~user', ['api', '~user']],
    ['a trailing slash', '/api/admin/', '/api/admin/', ['api', 'admin']],
    ['the root', '/', '/', []],
    ['lowercase hex in a non-ASCII byte', '/api/caf%c3%a9', '/api/caf%C3%A9', ['api', 'café']],
    ['a long s (U+017F) that NFKC folds to "s"', '/api/%C5%BFecret', '/api/%C5%BFecret', ['api', 'secret']],
    ['a Kelvin sign that NFKC folds to "k"', '/api/%E2%84%AA', '/api/%E2%84%AA', ['api', 'k']],
    ['an encoded percent sign, which stays encoded', '/api/%25', '/api/%25', ['api', '%']],
    ['an encoded space', '/api/a%20b', '/api/a%20b', ['api', 'a b']],
    ['three dots, which are not a dot segment', '/api/...', '/api/...', ['api', '...']],
    ['sub-delimiters and "@"', "/api/a!$&'()*+,=:@b", "/api/a!$&'()*+,=:@b", ['api', "a!$&'()*+,=:@b"]],
  ])('accepts %s', (_name, raw, path, keys) => {
    expect(canonicalizePath(raw)).toMatchObject({ path, keys })
  })

  it('records the decoded text of non-ASCII segments only, by index, for the fold check', () => {
    expect(canonicalizePath('/api/%C5%BFecret/caf%c3%a9/x').unicode).toEqual(
      new Map([
        [1, 'ſecret'],
        [2, 'café'],
      ]),
    )
    expect(canonicalizePath('/api/%41DMIN/a%20b').unicode).toBeUndefined()
  })

  it('matches "/api/%61dmin" against the admin route, not the any-principal one', () => {
    expect(matchOutcome(defaultRouteTable(), canonicalizePath('/api/%61dmin/users'))).toBe('/api/admin')
  })

  it('matches "/API/ADMIN/x" against the admin route', () => {
    expect(matchOutcome(defaultRouteTable(), canonicalizePath('/API/ADMIN/x'))).toBe('/api/admin')
  })
})

describe('splitRequestUrl reads the raw target without parsing it again', () => {
  it('rejects a URL that still carries a fragment ("/api/admin#x")', () => {
    expect(rejection(() => splitRequestUrl('http://gateway.test/api/admin#x'))).toBe('invalid_path')
  })

  it.each([
    ['http://gateway.test/api/public?a=1&a=2&b=%2F&c', '/api/public', '?a=1&a=2&b=%2F&c'],
    ['http://gateway.test/api/%61dmin', '/api/%61dmin', ''],
    ['http://gateway.test', '/', ''],
    ['http://gateway.test/', '/', ''],
    ['http://gateway.test/api?', '/api', '?'],
    ['http://gateway.test/a?next=http://evil.example/b', '/a', '?next=http://evil.example/b'],
    ['http://gateway.test/http://169.254.169.254/x', '/http://169.254.169.254/x', ''],
    ['http://gateway.test:8787/api/public', '/api/public', ''],
  ])('splits %s without decoding', (url, rawPath, query) => {
    expect(splitRequestUrl(url)).toMatchObject({ rawPath, query })
  })

  it('reads scheme and host from the URL the runtime parsed (lowercase, port kept)', () => {
    expect(splitRequestUrl('https://API.Example.com:8443/x?y')).toMatchObject({
      scheme: 'https',
      host: 'api.example.com:8443',
    })
    expect(splitRequestUrl('http://gateway.test')).toMatchObject({
      scheme: 'http',
      host: 'gateway.test',
      rawPath: '/',
    })
  })

  it('hands a scheme-smuggling path to canonicalizePath, which rejects it', () => {
    const { rawPath } = splitRequestUrl('http://gateway.test/http://169.254.169.254/x')
    expect(rejection(() => canonicalizePath(rawPath))).toBe('invalid_path')
  })
})

// Pieces that have broken path handling somewhere: dot segments in every spelling, separators in
// every spelling, overlong UTF-8, NFKC look-alikes, bad encodings...
const HOSTILE_PIECES = [
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  ';',
  '%3B',
  '%c0%ae',
  '%C0%AE',
  '%E2%80%A5',
  '%EF%BC%8F',
  '%',
  '%2',
  '%00',
  '%ff',
  'é',
  ' ',
]
// ...mixed with pieces that are fine on their own but spell route names in other ways.
const BENIGN_PIECES = [
  'a',
  'A',
  'dmin',
  'admin',
  'Admin',
  'ADMIN',
  'public',
  'PUBLIC',
  'api',
  'API',
  '%41',
  '%61',
  '%7e',
  '%C3%A9',
  '%C5%BF',
  '%E2%84%AA',
  '%25',
  '@',
  ':',
  '...',
]
const piece = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_PIECES) },
  { weight: 3, arbitrary: fc.constantFrom(...BENIGN_PIECES) },
)
const pieceSegment = fc.array(piece, { minLength: 1, maxLength: 3 }).map((pieces) => pieces.join(''))
const mixedCaseSegment = fc.string({
  unit: fc.constantFrom('a', 'A', 'd', 'D', 'm', 'M', 'i', 'n', 'N'),
  minLength: 1,
  maxLength: 6,
})
const segment = fc.oneof(
  { weight: 6, arbitrary: pieceSegment },
  { weight: 3, arbitrary: mixedCaseSegment },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant('') },
)
const arbitraryPath = fc
  .tuple(
    fc.constantFrom('', '/api', '/api/public', '/api/public', '/API/Public', '/api/admin', '//api'),
    fc.array(segment, { maxLength: 4 }),
    fc.boolean(),
  )
  .map(([prefix, segments, trailingSlash]) => `${prefix}/${segments.join('/')}${trailingSlash ? '/' : ''}`)

const DOT_SEGMENT = /^(\.|\.\.)$/

function hasSeparatorOrControl(text: string): boolean {
  return [...text].some((char) => '/\\;'.includes(char) || (char.codePointAt(0) ?? 0) < 0x20)
}

describe('canonicalizePath on generated hostile paths (property)', () => {
  it('either rejects with invalid_path or yields a fixed point that routes and forwards the same way', () => {
    const table = defaultRouteTable()
    fc.assert(
      fc.property(arbitraryPath, (raw) => {
        let canonical: CanonicalPath
        try {
          canonical = canonicalizePath(raw)
        } catch (error) {
          expect(error).toBeInstanceOf(GatewayError)
          expect((error as GatewayError).code).toBe('invalid_path')
          return
        }
        // A fixed point: deciding again on what we forward changes nothing.
        expect(canonicalizePath(canonical.path)).toEqual(canonical)
        const segments = canonical.path.split('/').slice(1)
        segments.forEach((spelled, index) => {
          if (index < segments.length - 1) expect(spelled).not.toBe('')
          const decoded = decodeURIComponent(spelled)
          // An upstream that decodes once (and maybe NFKC-normalizes) sees no separator or dot segment.
          expect(decoded).not.toMatch(DOT_SEGMENT)
          expect(decoded.normalize('NFKC')).not.toMatch(DOT_SEGMENT)
          expect(hasSeparatorOrControl(decoded.normalize('NFKC'))).toBe(false)
        })
        // fetch() re-parses the upstream URL: it must not rewrite the canonical path.
        expect(new URL(canonical.path, 'http://upstream.test').pathname).toBe(canonical.path)
        // The default routes forward the path as is: what the upstream receives matches the same route.
        const forwarded = new URL(canonical.path, 'http://upstream.test').pathname
        expect(matchOutcome(table, canonicalizePath(forwarded))).toBe(matchOutcome(table, canonical))
      }),
      { numRuns: 200 },
    )
  })
})

describe('the gateway on generated hostile paths (property, through the Worker)', () => {
  it('answers 4xx without forwarding, or forwards exactly the canonical public path it authorized', async () => {
    const table = defaultRouteTable()
    await fc.assert(
      fc.asyncProperty(arbitraryPath, async (raw) => {
        const id = testId()
        // The Request constructor already normalizes some spellings (WHATWG URL); the Worker sees
        // `request.url`, and that is what the gateway must decide on.
        const request = new Request(`http://gateway.test${raw}`, { headers: { 'x-test-id': id } })
        const response = await SELF.fetch(request)
        await response.arrayBuffer()
        const received = await upstreamReceived(id)

        // A URL the gateway refuses to split (a fragment in it: `/# `) is expected to be refused.
        let expected: CanonicalPath | undefined
        try {
          expected = canonicalizePath(splitRequestUrl(request.url).rawPath)
        } catch {
          expected = undefined
        }
        const outcome = expected ? matchOutcome(table, expected) : 'invalid_path'
        if (outcome !== '/api/public') {
          expect(response.status).toBeGreaterThanOrEqual(400)
          expect(response.status).toBeLessThan(500)
          expect(received).toEqual([])
          return
        }
        expect(response.status).toBe(200)
        expect(received).toHaveLength(1)
        const path = received[0]?.url ?? ''
        // The authorized path: the matched prefix in the route's spelling, the rest as canonicalized.
        const route = table.match('GET', 'gateway.test', expected as CanonicalPath)
        expect(path).toBe(authorizedPath(route, (expected as CanonicalPath).path))
        const reread = canonicalizePath(path)
        expect(reread.path).toBe(path)
        expect(matchOutcome(table, reread)).toBe('/api/public')
      }),
      { numRuns: 40 },
    )
  })
})
