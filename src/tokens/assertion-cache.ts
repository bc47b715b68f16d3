import type { Principal } from '../authz/principal'

/** Reuse an assertion while it has at least this long to live (assertions live 60 s). */
export const ASSERTION_REUSE_MIN_REMAINING_SECONDS = 30
const CAPACITY = 10_000

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

  static keyFor(principal: Principal, audience: string): string {
    return [
      principal.method,
      principal.id,
      principal.username,
      principal.roles.join(','),
      principal.scopes.join(' '),
      principal.clientId ?? '',
      principal.firstParty ? 'first-party' : '',
      principal.issuerName ?? '',
      principal.amr?.join(' ') ?? '',
      principal.acr ?? '',
      principal.authTime ?? '',
      principal.loginProvider ?? '',
      audience,
    ].join('\n')
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
