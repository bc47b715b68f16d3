/**
 * The throttling bucket of a client address (`CF-Connecting-IP`).
 *
 * One IPv6 subscriber gets at least a /64 (RFC 6177; SLAAC needs one), so a single client can
 * rotate through 2^64 source addresses: keyed by the full address, an IPv6 client would have a
 * fresh per-IP budget for every request. IPv6 is therefore keyed by its /64, in one canonical
 * spelling (`2001:db8:0:1::/64`) whatever spelling arrived. IPv4, and IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`, the same host), are keyed by the full IPv4 address. Anything else can only
 * come from a request that did not pass through Cloudflare; it is used as is, bounded in length so
 * a huge header cannot become a huge D1 key.
 */

// The longest textual IPv6 address (eight hextets with an embedded IPv4 tail) is 45 characters.
const MAX_RAW_ADDRESS_LENGTH = 64

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const HEXTET = /^[0-9a-f]{1,4}$/i

function parseIpv4(text: string): number[] | undefined {
  const match = IPV4.exec(text)
  if (!match) return undefined
  const octets = match.slice(1).map(Number)
  return octets.every((octet) => octet <= 255) ? octets : undefined
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return []
  const groups = text.split(':')
  const last = groups[groups.length - 1] as string
  // An IPv4 tail (`::ffff:192.0.2.1`) stands for the last two hextets.
  const tail = last.includes('.') ? parseIpv4(last) : undefined
  if (last.includes('.') && !tail) return undefined
  const hexGroups = tail ? groups.slice(0, -1) : groups
  if (!hexGroups.every((group) => HEXTET.test(group))) return undefined
  const hextets = hexGroups.map((group) => Number.parseInt(group, 16))
  if (tail)
    hextets.push(
      ((tail[0] as number) << 8) | (tail[1] as number),
      ((tail[2] as number) << 8) | (tail[3] as number),
    )
  return hextets
}

/** The eight hextets of an IPv6 address, or undefined when the text is not one. */
export function parseIpv6(text: string): number[] | undefined {
  if (!text.includes(':')) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0] as string)
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : []
  if (!head || !tail) return undefined
  if (halves.length === 1) return head.length === 8 ? head : undefined
  // `::` stands for at least one zero hextet.
  const missing = 8 - head.length - tail.length
  if (missing < 1) return undefined
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

function isIpv4Mapped(hextets: readonly number[]): boolean {
  return hextets.slice(0, 5).every((hextet) => hextet === 0) && hextets[5] === 0xffff
}

/** The key that throttling counts a client address under (see the module comment). */
export function addressBucket(raw: string): string {
  const ipv4 = parseIpv4(raw)
  if (ipv4) return ipv4.join('.')
  const hextets = parseIpv6(raw)
  if (!hextets) return raw.slice(0, MAX_RAW_ADDRESS_LENGTH)
  if (isIpv4Mapped(hextets)) {
    const [high, low] = [hextets[6] as number, hextets[7] as number]
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  return `${hextets
    .slice(0, 4)
    .map((hextet) => hextet.toString(16))
    .join(':')}::/64`
}
