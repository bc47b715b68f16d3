import { describe, expect, it } from 'vitest'
import { canonicalizePath } from './canonical-path'
import { refuseReservedPath, reservedSegmentFor, startsWithReservedSegment } from './reserved-segments'

describe('the entry sends every ASCII case spelling of a reserved segment to the gateway', () => {
  it.each([
    'http://gw.test/admin',
    'http://gw.test/admin/users?x=1',
    'http://gw.test/ADMIN/users',
    'http://gw.test/Auth?x',
    'http://gw.test/.WELL-KNOWN/jwks.json',
    'http://gw.test/HealthZ',
    'http://gw.test',
  ])('%s', (url) => {
    expect(startsWithReservedSegment(url)).toBe(true)
  })

  it.each([
    'http://gw.test/',
    'http://gw.test/api/admin',
    'http://gw.test/administrator',
    'http://gw.test/authz',
  ])('and proxies %s directly', (url) => {
    expect(startsWithReservedSegment(url)).toBe(false)
  })
})

describe('reservedSegmentFor reads a segment as route matching and upstream case folds do', () => {
  it.each([
    ['admin', undefined, 'admin'],
    ['.well-known', undefined, '.well-known'],
    ['adm\u0131n', 'adm\u0131n', 'admin'], // dotless ı: Java and .NET read "admin"
    ['api', undefined, undefined],
    ['administrator', undefined, undefined],
  ])('%s → %s', (key, decoded, expected) => {
    expect(reservedSegmentFor(key, decoded)).toBe(expected)
  })
})

describe('refuseReservedPath', () => {
  it.each(['/admin', '/ADMIN/x', '/%61uth', '/%EF%BD%88ealthz'])('%s is 404 not_found', (raw) => {
    expect(() => refuseReservedPath(canonicalizePath(raw))).toThrowError(
      expect.objectContaining({ code: 'not_found' }),
    )
  })

  it('a fold variant only another semantics reads as reserved is 400 invalid_path', () => {
    expect(() => refuseReservedPath(canonicalizePath('/adm%C4%B1n'))).toThrowError(
      expect.objectContaining({ code: 'invalid_path' }),
    )
  })

  it.each(['/', '/api/admin/x', '/x/auth'])('%s passes (only the first segment is reserved)', (raw) => {
    expect(() => refuseReservedPath(canonicalizePath(raw))).not.toThrow()
  })
})
