/**
 * Which hosts the gateway may fetch a document from on a stranger's say-so (a client_id that is a
 * URL). Workers have no DNS API, so only what the URL itself shows can be judged here: an IP
 * literal outside the public unicast ranges, and names that only ever resolve inside a network.
 * A public name whose DNS points at a private address is the platform's to refuse (docs/mcp.md,
 * "Client ID Metadata Documents": what `global_fetch_strictly_public` covers).
 *
 * The hostname is the one a WHATWG URL parser gives back, which has already turned every IPv4
 * spelling (`0x7f.1`, `2130706433`, `127.1`) into dotted quads and IPv6 into compressed hex.
 */

/** IPv4 ranges that are not public unicast (RFC 6890 and its updates), as [first octets, prefix]. */
const NON_PUBLIC_IPV4: readonly [number, number, number, number, number][] = [
  [0, 0, 0, 0, 8], // "this network"
  [10, 0, 0, 0, 8], // private (RFC 1918)
  [100, 64, 0, 0, 10], // carrier-grade NAT (RFC 6598)
  [127, 0, 0, 0, 8], // loopback
  [169, 254, 0, 0, 16], // link-local, cloud metadata services
  [172, 16, 0, 0, 12], // private
  [192, 0, 0, 0, 24], // IETF protocol assignments
  [192, 0, 2, 0, 24], // documentation
  [192, 88, 99, 0, 24], // 6to4 relay anycast
  [192, 168, 0, 0, 16], // private
  [198, 18, 0, 0, 15], // benchmarking
  [198, 51, 100, 0, 24], // documentation
  [203, 0, 113, 0, 24], // documentation
  [224, 0, 0, 0, 4], // multicast
  [240, 0, 0, 0, 4], // reserved, and 255.255.255.255
]

// Names that resolve only on a local network or machine (RFC 6761, RFC 6762, RFC 8375).
const LOCAL_SUFFIXES = [
  '.localhost',
  '.local',
  '.localdomain',
  '.internal',
  '.intranet',
  '.home.arpa',
  '.lan',
]

function ipv4Number(host: string): number | undefined {
  const parts = host.split('.')
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined
  const octets = parts.map(Number)
  if (octets.some((octet) => octet > 255)) return undefined
  return octets.reduce((value, octet) => value * 256 + octet, 0)
}

function inIpv4Range(value: number, [a, b, c, d, prefix]: (typeof NON_PUBLIC_IPV4)[number]): boolean {
  const base = ((a * 256 + b) * 256 + c) * 256 + d
  const size = 2 ** (32 - prefix)
  return value >= base && value < base + size
}

/** The eight 16-bit groups of an IPv6 address (without brackets), or undefined if it is not one. */
export function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase()
  // A dotted IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (tail) {
    const value = ipv4Number(tail[1] as string)
    if (value === undefined) return undefined
    text = `${text.slice(0, -(tail[1] as string).length)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const split = (part: string) => (part === '' ? [] : part.split(':'))
  const head = split(halves[0] as string)
  const rest = halves.length === 2 ? split(halves[1] as string) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return undefined
  return groups.map((group) => Number.parseInt(group, 16))
}

/**
 * Why an IPv6 address is not a public unicast one, or undefined if it is. Only 2000::/3 is global
 * unicast; inside it, the forms that carry an IPv4 address (6to4, Teredo) are refused whole, since
 * the embedded address may be a private one and the platform may route them.
 */
function ipv6Refusal(groups: readonly number[]): string | undefined {
  const [first = 0, second = 0] = groups
  const allZeroUpTo = (count: number) => groups.slice(0, count).every((group) => group === 0)
  if (allZeroUpTo(5) && groups[5] === 0xffff) return 'is an IPv4-mapped IPv6 address'
  if (allZeroUpTo(6)) return 'is a loopback, unspecified or IPv4-compatible IPv6 address'
  if (first === 0x64 && second === 0xff9b) return 'is a NAT64 IPv6 address (it embeds an IPv4 address)'
  if ((first & 0xfe00) === 0xfc00) return 'is a unique-local IPv6 address (fc00::/7)'
  if ((first & 0xffc0) === 0xfe80) return 'is a link-local IPv6 address (fe80::/10)'
  if ((first & 0xff00) === 0xff00) return 'is a multicast IPv6 address'
  if ((first & 0xe000) !== 0x2000) return 'is not a global unicast IPv6 address'
  if (first === 0x2002) return 'is a 6to4 IPv6 address (it embeds an IPv4 address)'
  if (first === 0x2001 && second === 0) return 'is a Teredo IPv6 address (it embeds an IPv4 address)'
  if (first === 0x2001 && second === 0xdb8) return 'is a documentation IPv6 address'
  return undefined
}

/**
 * Why the gateway must not fetch from `hostname` (as `URL.hostname` gives it: IPv6 in brackets),
 * or undefined when nothing in the name forbids it.
 */
export function hostRefusal(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, '')
  if (host.startsWith('[') && host.endsWith(']')) {
    const groups = ipv6Groups(host.slice(1, -1))
    if (!groups) return 'is not a valid IPv6 address'
    return ipv6Refusal(groups)
  }
  const ipv4 = ipv4Number(host)
  if (ipv4 !== undefined)
    return NON_PUBLIC_IPV4.some((range) => inIpv4Range(ipv4, range))
      ? 'is a private, loopback, link-local, CGNAT or reserved IPv4 address'
      : undefined
  if (host === 'localhost' || LOCAL_SUFFIXES.some((suffix) => host.endsWith(suffix)))
    return 'is a local-only name'
  if (!host.includes('.')) return 'is a single-label name (it resolves only on a local network)'
  return undefined
}
