import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { outcome, tableOf } from '../../test/support/route-tables'
import { canonicalizePath } from './canonical-path'

// A protected route under a permissive one, plus route names holding the letters that case
// folding treats specially (i, s, k, ff, ss) and configured non-ASCII segments (é, ß, å).
const ROUTES = [
  '/api',
  '/api/admin',
  '/api/office',
  '/api/secret/keys',
  '/api/kiosk',
  '/api/fish',
  '/api/caf%C3%A9',
  '/api/stra%C3%9Fe',
  '/api/%C3%A5rsrapport',
  '/billing/invoices',
].map((path) => ({ path }))

describe('segments that other case-folding semantics read as a route segment are matched or refused', () => {
  const table = tableOf(ROUTES)

  it.each([
    ['a capital I with dot (U+0130), "admin" to Java equalsIgnoreCase', '/api/adm%C4%B0n/users'],
    ['a dotless i (U+0131), "admin" to Java and .NET OrdinalIgnoreCase', '/api/adm%C4%B1n/users'],
    ['a dotless i in upper case context', '/api/ADM%C4%B1N'],
    ['i + combining dot above (U+0307), what İ lowercases to', '/api/admi%CC%87n'],
    ['I + combining dot above, which NFC composes into İ', '/api/ADMI%CC%87N'],
    ['a dotless i in the first segment', '/ap%C4%B1/admin'],
    ['the ASCII "strasse" for a configured ß (casefold: straße is strasse)', '/api/strasse'],
    ['"SS" for a configured ß', '/api/STRASSE/x'],
    ['long s pairs for a configured ß', '/api/stra%C5%BF%C5%BFe'],
    ['a dotless i in "fish"', '/api/f%C4%B1sh'],
  ])('refuses %s (%s) with invalid_path', (_name, raw) => {
    expect(outcome(table, raw)).toBe('invalid_path')
  })

  it.each([
    ['an ASCII spelling in any case', '/api/ADMIN/users', '/api/admin'],
    ['a long s (U+017F), which NFKC makes "s"', '/api/%C5%BFecret/keys', '/api/secret/keys'],
    ['a Kelvin sign (U+212A), which NFKC makes "K"', '/api/%E2%84%AAiosk', '/api/kiosk'],
    ['an ff ligature (U+FB00), which NFKC makes "ff"', '/api/o%EF%AC%80ice', '/api/office'],
    ['an ffi ligature (U+FB03)', '/api/o%EF%AC%83ce', '/api/office'],
    ['fullwidth letters', '/api/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E', '/api/admin'],
    ['an Angstrom sign (U+212B) for a configured å', '/api/%E2%84%ABrsrapport', '/api/%C3%A5rsrapport'],
    ['a capital sharp s (U+1E9E) for a configured ß', '/api/STRA%E1%BA%9EE', '/api/stra%C3%9Fe'],
    ['a decomposed é for a configured é', '/api/cafe%CC%81', '/api/caf%C3%A9'],
    ['a Turkish word that aliases no route', '/api/%C4%B1%C5%9F%C4%B1k', '/api'],
    ['"administrator" with a dotless i, which is no route segment', '/api/adm%C4%B1nistrator', '/api'],
  ])('matches %s (%s) to %s', (_name, raw, route) => {
    expect(outcome(table, raw)).toBe(route)
  })

  it('refuses ß where the route says "ss" (casefold: "straße" is "strasse")', () => {
    expect(outcome(tableOf([{ path: '/api' }, { path: '/api/strasse' }]), '/api/stra%C3%9Fe')).toBe(
      'invalid_path',
    )
  })
})

// Spellings of each ASCII letter (and letter pairs) that some semantics folds back to it.
const LETTER_SPELLINGS: Record<string, string[]> = {
  i: ['i', 'I', '\u0131', '\u0130', 'i\u0307', 'I\u0307', '\uff49'],
  s: ['s', 'S', '\u017f', '\uff53'],
  k: ['k', 'K', '\u212a', '\uff4b'],
  ss: ['ss', '\u00df', '\u1e9e', 'SS', '\u017f\u017f'],
  ff: ['ff', '\ufb00', 'FF'],
  fi: ['fi', '\ufb01'],
  ffi: ['ffi', '\ufb03'],
  st: ['st', '\ufb06', '\ufb05'],
  '\u00df': ['\u00df', '\u1e9e', 'ss', 'SS', '\u017f\u017f', 's\u017f'],
  '\u00e9': ['\u00e9', '\u00c9', 'e\u0301', 'E\u0301'],
  '\u00e5': ['\u00e5', '\u00c5', '\u212b', 'a\u030a'],
}

function spellingsOf(text: string, at: number): [consumed: number, options: string[]][] {
  const out: [number, string[]][] = []
  for (const length of [3, 2, 1]) {
    const piece = text.slice(at, at + length)
    if (piece.length < length) continue
    const listed = LETTER_SPELLINGS[piece]
    if (listed) out.push([length, listed])
    else if (length === 1) {
      const fullwidth = /[a-z]/.test(piece) ? String.fromCharCode(piece.charCodeAt(0) + 0xfee0) : piece
      out.push([1, [piece, piece.toUpperCase(), fullwidth]])
    }
  }
  return out
}

/** Re-spells `segment` choosing among the spellings above with the generated `choices`. */
function respell(segment: string, choices: readonly number[]): string {
  let out = ''
  let at = 0
  let next = 0
  while (at < segment.length) {
    const candidates = spellingsOf(segment, at)
    const [consumed, options] = candidates[(choices[next++ % choices.length] ?? 0) % candidates.length] as [
      number,
      string[],
    ]
    out += options[(choices[next++ % choices.length] ?? 0) % options.length]
    at += consumed
  }
  return out
}

const spelledRequest = fc.record({
  route: fc.constantFrom(...ROUTES.filter((route) => route.path !== '/api').map((route) => route.path)),
  choices: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
  encodeAscii: fc.boolean(),
  suffix: fc.constantFrom('', '/', '/x', '/Users/1'),
})

describe('every spelling of a configured segment reaches its route or is refused (property)', () => {
  const table = tableOf(ROUTES)

  it('never routes a case or compatibility spelling of a route to a weaker one', () => {
    fc.assert(
      fc.property(spelledRequest, ({ route, choices, encodeAscii, suffix }) => {
        const segments = decodeURIComponent(route).split('/').slice(1)
        const spelled = segments.map((segment) => {
          const encoded = encodeURIComponent(respell(segment, choices))
          // Percent-encoding an ASCII letter (%61) spells the same segment once more.
          return encodeAscii ? encoded.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`) : encoded
        })
        const result = outcome(table, `/${spelled.join('/')}${suffix}`)
        expect([route, 'invalid_path']).toContain(result)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('an escaped escape (%25 + two hex digits) is refused unless the route allows it', () => {
  const table = tableOf([
    { path: '/api' },
    { path: '/api/public' },
    { path: '/files', allow_encoded_percent: true },
  ])

  it.each([
    ['a double-encoded dot-dot', '/api/public/%252e%252e/admin'],
    ['a double-encoded slash', '/api/public/..%252fadmin'],
    ['lowercase hex after %25', '/api/public/%252f'],
    ['%25 then hex spelled as encoded digits (%25%34%31 is forwarded as %2541)', '/api/public/%25%34%31'],
    ['a triple-encoded escape', '/api/public/%25252e'],
  ])('refuses %s (%s) with invalid_path on a route without the option', (_name, raw) => {
    expect(canonicalizePath(raw).encodedPercent).toBe(true)
    expect(outcome(table, raw)).toBe('invalid_path')
  })

  it.each([
    ['a lone encoded percent', '/api/public/100%25'],
    ['%25 followed by one hex digit', '/api/public/%25a'],
    ['%25 followed by non-hex', '/api/public/%25zz'],
    ['%25 at the end of a segment before another', '/api/public/a%25/bc'],
  ])('accepts %s (%s), which no single decode turns into an escape', (_name, raw) => {
    expect(canonicalizePath(raw).encodedPercent).toBeUndefined()
    expect(outcome(table, raw)).toBe('/api/public')
  })

  it('forwards an escaped escape on a route with allow_encoded_percent', () => {
    expect(outcome(table, '/files/report%2520final.pdf')).toBe('/files')
  })
})

describe('methods and the Allow list', () => {
  const table = tableOf([
    { path: '/api' },
    { path: '/dav', methods: ['GET', 'PROPFIND', 'X-SYNC'] },
    { path: '/dav', methods: ['MOVE'] },
  ])

  it.each(['PROPFIND', 'MOVE', 'LOCK', 'PURGE', 'X-SYNC', 'BREW', 'TRACE', 'patch'])(
    'refuses %s on a route without methods: 405 with the default Allow',
    (method) => {
      expect(outcome(table, '/api/x', method)).toBe(
        'method_not_allowed [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]',
      )
    },
  )

  it.each(['PROPFIND', 'X-SYNC', 'MOVE', 'GET', 'HEAD'])('takes the listed %s', (method) => {
    expect(outcome(table, '/dav/x', method)).toBe('/dav')
  })

  it('refuses an unlisted method with the methods of every route on the prefix', () => {
    expect(outcome(table, '/dav/x', 'LOCK')).toBe('method_not_allowed [GET, HEAD, PROPFIND, X-SYNC, MOVE]')
  })
})

describe('host matching is port-aware', () => {
  const table = tableOf([
    { path: '/', host: 'any-port.test' },
    { path: '/', host: 'one-port.test:8443' },
    { path: '/' },
  ])

  it.each([
    ['any-port.test', 'any-port.test'],
    ['any-port.test:8443', 'any-port.test'],
    ['any-port.test.:9000', 'any-port.test'],
    ['one-port.test:8443', 'one-port.test:8443'],
    ['one-port.test.:8443', 'one-port.test:8443'],
  ])('a request to %s gets the %s route', (host, routeHost) => {
    expect(table.match('GET', host, canonicalizePath('/x')).host).toBe(routeHost)
  })

  it.each(['one-port.test', 'one-port.test:9443', '[::1]:8443', 'other.test:8443'])(
    '%s gets the host-less route',
    (host) => {
      expect(table.match('GET', host, canonicalizePath('/x')).host).toBeUndefined()
    },
  )
})
