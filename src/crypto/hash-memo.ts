import { sha256Hex } from './bytes'

/**
 * SHA-256 of presented secrets (API keys, session cookie values), remembered per isolate: a client
 * sends the same key or cookie on every request, and hashing it again each time cost ~7% of an
 * API-key request's CPU (profiled). The memo changes no decision: the hash is a pure function of
 * the value, and every check that uses it (KV record, tombstone, expiry, revocation) still runs per
 * request. Bounded: at most MEMO_CAPACITY values of at most MAX_MEMO_VALUE characters (~3 MB
 * worst case), emptied when full; it holds secrets the way the verified-token cache holds tokens
 * (isolate memory only, never logged or stored). See docs/threat-model.md.
 */
export const MEMO_CAPACITY = 10_000
const MAX_MEMO_VALUE = 256
const memo = new Map<string, string>()

export async function memoizedSha256Hex(value: string): Promise<string> {
  const known = memo.get(value)
  if (known !== undefined) return known
  const hash = await sha256Hex(value)
  if (value.length <= MAX_MEMO_VALUE) {
    if (memo.size >= MEMO_CAPACITY) memo.clear()
    memo.set(value, hash)
  }
  return hash
}

/** How many values the memo holds (tests check the bound). */
export function hashMemoSize(): number {
  return memo.size
}
