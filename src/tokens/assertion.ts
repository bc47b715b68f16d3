import { SignJWT } from 'jose'
import { isDelegated, type Principal } from '../authz/principal'
import { AssertionCache } from './assertion-cache'
import type { KeyRing } from './signing-keys'

export const ASSERTION_TYP = 'gateway-assertion+jwt'

export interface AssertionOptions {
  issuer: string
  /** The upstream origin; an upstream verifies `aud` equals its own origin. */
  audience: string
  ttlSeconds: number
}

/**
 * The signed statement of who the caller is, for upstreams that verify rather than trust
 * headers. Verifiable with /.well-known/jwks.json; lives at most 60 s.
 */
export function signAssertion(
  ring: KeyRing,
  principal: Principal,
  options: AssertionOptions,
): Promise<string> {
  return mint(ring, principal, options, Math.floor(Date.now() / 1000))
}

// One cache per key ring: a rotated or removed signing key never has its assertions reused.
const caches = new WeakMap<KeyRing, AssertionCache>()

// A principal object is shared by the requests of one cached token, key record or session record,
// so its cache key is built once per (principal, audience), not per request.
const keys = new WeakMap<Principal, { audience: string; key: string }>()

function cacheKeyFor(principal: Principal, audience: string): string {
  const known = keys.get(principal)
  if (known?.audience === audience) return known.key
  const key = AssertionCache.keyFor(principal, audience)
  keys.set(principal, { audience, key })
  return key
}

/** `signAssertion` with per-isolate reuse (see AssertionCache for the trade-off). */
export async function assertionFor(
  ring: KeyRing,
  principal: Principal,
  options: AssertionOptions,
): Promise<string> {
  let cache = caches.get(ring)
  if (!cache) {
    cache = new AssertionCache()
    caches.set(ring, cache)
  }
  const now = Math.floor(Date.now() / 1000)
  const key = cacheKeyFor(principal, options.audience)
  const cached = cache.get(key, now)
  if (cached) return cached
  const jwt = await mint(ring, principal, options, now)
  cache.set(key, jwt, now + options.ttlSeconds)
  return jwt
}

function mint(ring: KeyRing, principal: Principal, options: AssertionOptions, now: number): Promise<string> {
  return new SignJWT({
    roles: principal.roles,
    scope: principal.scopes.join(' '),
    auth_method: principal.method,
    username: principal.username,
    ...(principal.clientId ? { client_id: principal.clientId } : {}),
    // OIDC's authorized party: set when an app acts for the user with one of our tokens (a delegated
    // token), so an upstream can refuse or narrow calls made by apps rather than by the user.
    ...(isDelegated(principal) ? { azp: principal.clientId } : {}),
    // The configured name of the external issuer that vouched for the caller (`sub` starts with it).
    ...(principal.issuerName ? { idp: principal.issuerName } : {}),
    // How and when the user signed in (sessions and our user tokens), and which login provider
    // vouched for them: an upstream can make its own step-up decisions from these.
    ...(principal.amr ? { amr: principal.amr } : {}),
    ...(principal.acr ? { acr: principal.acr } : {}),
    ...(principal.authTime !== undefined ? { auth_time: principal.authTime } : {}),
    ...(principal.loginProvider ? { idp: principal.loginProvider } : {}),
  })
    .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: ASSERTION_TYP })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(principal.id)
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(ring.signer.privateKey)
}
