import { describe, expect, it } from 'vitest'
import { DEFAULT_LANDING_PATH, safeReturnTo } from './return-to'

const ORIGIN = 'https://gateway.example'

describe('return_to keeps browsers on the gateway origin', () => {
  it.each([
    '/',
    '/app/',
    '/app/orders?page=2&sort=desc',
    '/app/report#summary',
    '/docs/caf%C3%A9',
    '/search?q=a%20b',
    '/a/b.c/d-e_f~g',
  ])('honours the same-origin path %s', (path) => {
    expect(safeReturnTo(path, ORIGIN)).toBe(path)
  })

  it.each([
    ['protocol-relative //evil', '//evil.example'],
    ['backslash /\\evil', '/\\evil.example'],
    ['double backslash \\\\evil', '\\\\evil.example'],
    ['escaped slashes \\/\\/evil', '\\/\\/evil.example'],
    ['encoded tab /%09/evil', '/%09/evil.example'],
    ['raw tab /\\t/evil', '/\t/evil.example'],
    ['raw newline /\\n/evil', '/\n/evil.example'],
    ['encoded CR LF /%0d%0a/evil', '/%0d%0a/evil.example'],
    ['encoded backslash /%5Cevil', '/%5Cevil.example'],
    ['encoded backslash (lowercase) /%5cevil', '/%5cevil.example'],
    ['encoded slash /%2F/evil', '/%2F/evil.example'],
    ['encoded slash at the start %2F%2Fevil', '%2F%2Fevil.example'],
    ['double-encoded slash /%252F/evil', '/%252F/evil.example'],
    ['double-encoded backslash /%255Cevil', '/%255Cevil.example'],
    ['leading space " //evil"', ' //evil.example'],
    ['encoded leading space %20//evil', '%20//evil.example'],
    ['non-breaking space /%C2%A0/evil', '/%C2%A0/evil.example'],
    ['scheme https:evil', 'https:evil.example'],
    ['absolute URL https://evil', 'https://evil.example/'],
    ['javascript: URL', 'javascript:alert(document.domain)'],
    ['data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['ideographic full stop /%E3%80%82evil', '/%E3%80%82evil.example'],
    ['fullwidth solidus /%EF%BC%8Fevil', '/%EF%BC%8Fevil.example'],
    ['fullwidth reverse solidus /%EF%BC%BCevil', '/%EF%BC%BCevil.example'],
    ['NUL /%00/evil', '/%00/evil.example'],
    ['dot segments /../evil', '/app/../../evil'],
    ['encoded dot segments /%2e%2e/evil', '/%2e%2e/evil'],
    ['malformed escape /%E0%A4%A', '/%E0%A4%A'],
    ['empty', ''],
    ['relative path evil', 'evil.example'],
    ['over-long value', `/${'a'.repeat(3000)}`],
  ])('turns %s into / (CONTRACT.md: anything else becomes /)', (_name, value) => {
    expect(safeReturnTo(value, ORIGIN)).toBe('/')
  })

  it('turns a missing value into the default landing page, the account home', () => {
    expect(DEFAULT_LANDING_PATH).toBe('/auth/account')
    expect(safeReturnTo(null, ORIGIN)).toBe(DEFAULT_LANDING_PATH)
    expect(safeReturnTo(undefined, ORIGIN)).toBe(DEFAULT_LANDING_PATH)
  })
})
