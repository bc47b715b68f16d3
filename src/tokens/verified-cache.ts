import type { Principal } from '../authz/principal'

/** How many verified tokens an isolate remembers (each entry is well under 1 KiB). */
export const VERIFIED_CACHE_SIZE = 10_000

/**
 * Tokens whose signature and claims were already verified in this isolate, keyed by the whole
 * token string (never by `kid` or `jti` alone, which an attacker can copy into a forged token).
 * An entry is used only until the token's `exp`; the revocation check still runs on every request.
 * Map insertion order makes the eviction least-recently-inserted, which is enough here.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Principal>()

  constructor(private readonly capacity = VERIFIED_CACHE_SIZE) {}

  get(token: string, nowSeconds: number): Principal | undefined {
    const principal = this.entries.get(token)
    if (!principal) return undefined
    if (principal.expiresAt === undefined || principal.expiresAt <= nowSeconds) {
      this.entries.delete(token)
      return undefined
    }
    return principal
  }

  set(token: string, principal: Principal): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(token, principal)
  }

  get size(): number {
    return this.entries.size
  }
}
