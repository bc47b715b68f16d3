import { describe, expect, it } from 'vitest'
import { addressBucket, parseIpv6 } from './client-address'

describe('addressBucket: the key a client address is throttled under', () => {
  it('keys IPv4 by the full address', () => {
    expect(addressBucket('198.51.100.7')).toBe('198.51.100.7')
    expect(addressBucket('198.51.100.8')).toBe('198.51.100.8')
  })

  it.each([
    '2001:db8:0:1::1',
    '2001:db8:0:1::',
    '2001:DB8:0:1:FFFF:FFFF:FFFF:FFFF',
    '2001:0db8:0000:0001:0000:0000:0000:0002',
    '2001:db8::1:0:0:0:9',
    '2001:db8:0:1:1:2:192.0.2.1',
  ])(
    'keys every spelling of an address in 2001:db8:0:1::/64 the same (rotating within a /64 gains nothing): %s',
    (address) => {
      expect(addressBucket(address)).toBe('2001:db8:0:1::/64')
    },
  )

  it('keeps neighbouring /64s apart', () => {
    expect(addressBucket('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64')
    expect(addressBucket('2001:db8:1:1::1')).toBe('2001:db8:1:1::/64')
    expect(addressBucket('::1')).toBe('0:0:0:0::/64')
  })

  it('keys an IPv4-mapped IPv6 address (::ffff:a.b.c.d, either spelling) as the IPv4 address it is', () => {
    expect(addressBucket('::ffff:198.51.100.7')).toBe('198.51.100.7')
    expect(addressBucket('::FFFF:c633:6407')).toBe('198.51.100.7')
    expect(addressBucket('0:0:0:0:0:ffff:198.51.100.7')).toBe('198.51.100.7')
  })

  it('uses anything that is not an address as is, but never more than 64 characters of it', () => {
    expect(addressBucket('not an address')).toBe('not an address')
    expect(addressBucket('2001:db8:::1')).toBe('2001:db8:::1')
    expect(addressBucket('256.1.1.1')).toBe('256.1.1.1')
    expect(addressBucket('x'.repeat(10_000))).toBe('x'.repeat(64))
  })
})

describe('parseIpv6', () => {
  it.each([
    ['1:2:3:4:5:6:7:8:9', 'nine hextets'],
    ['1:2:3:4:5:6:7', 'seven hextets without ::'],
    ['1::2::3', 'two ::'],
    ['1:2:3:4::5:6:7:8', ':: standing for no hextet'],
    ['12345::1', 'a five-digit group'],
    ['g::1', 'a non-hex digit'],
    [':1:2:3:4:5:6:7', 'a single leading colon'],
    ['::1.2.3.256', 'a bad IPv4 tail'],
    ['1.2.3.4', 'plain IPv4'],
  ])('refuses %s (%s)', (text) => {
    expect(parseIpv6(text)).toBeUndefined()
  })

  it('expands :: and an IPv4 tail', () => {
    expect(parseIpv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
    expect(parseIpv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0])
    expect(parseIpv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])
  })
})
