import type { Principal } from '../authz/principal'

/** Reuse an assertion while it has at least this long to live (assertions live 60 s). */
export const ASSERTION_REUSE_MIN_REMAINING_SECONDS = 30
const CAPACITY = 10_000

/**
 * Every Principal field, and whether an assertion may carry it (or decide a claim by it, as
 * `firstParty` and `clientId` decide `azp`). A field added to Principal does not compile here until
 * someone says which: a claim left out of the key would hand one caller another's assertion.
 */
const IN_ASSERTION: Record<keyof Required<Principal>, boolean> = {
  method: true,
  id: true,
  username: true,
  roles: true,
  scopes: true,
  clientId: true,
  firstParty: true,
  issuerName: true,
  authTime: true,
  amr: true,
  acr: true,
  loginProvider: true,
  // Per credential, not per caller: never in an assertion.
  tokenId: false,
  tokenIdHash: false,
  expiresAt: false,
  sessionId: false,
  browserSession: false,
}
const ASSERTED_FIELDS = (Object.keys(IN_ASSERTION) as (keyof Principal)[]).filter(
  (field) => IN_ASSERTION[field],
)

interface Entry {
  jwt: string
  expiresAt: number
}

/**
 * Signing an ES256 assertion costs about as much as a whole pass-through request, so an isolate
 * reuses the assertion it minted for the same principal, credential and upstream for up to
 * 30 seconds. The consequence: an assertion's `jti` identifies a (caller, upstream, half-minute),
 * not a single request; upstreams that want per-request replay protection use `X-Request-Id`.
 */
export class AssertionCache {
  private readonly entries = new Map<string, Entry>()

  /**
   * What the assertion says about the caller, and its audience: two principals with the same key
   * get the same claims (a new token of a user already seen reuses that user's assertion). Built
   * from the content, every field the assertion may carry, never from the principal object.
   */
  static keyFor(principal: Principal, audience: string): string {
    const parts: unknown[] = [audience]
    for (const field of ASSERTED_FIELDS) parts.push(principal[field])
    return JSON.stringify(parts)
  }

  get(key: string, nowSeconds: number): string | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt - nowSeconds < ASSERTION_REUSE_MIN_REMAINING_SECONDS) {
      this.entries.delete(key)
      return undefined
    }
    return entry.jwt
  }

  set(key: string, jwt: string, expiresAt: number): void {
    if (this.entries.size >= CAPACITY) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(key, { jwt, expiresAt })
  }
}
