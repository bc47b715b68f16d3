/**
 * The device cookie (OWASP's "device cookie" pattern against targeted lockout): after a password
 * sign-in succeeds, the browser gets a long-lived HttpOnly cookie holding a JWT signed with the
 * gateway's key that names the username and a random device id. A later password attempt for that
 * username that carries it is a known device: it counts per device (its own binding and its own
 * D1 subject) instead of against the account's limits and the global ceiling, so a flood of wrong
 * passwords for a chosen user, or for everyone, does not keep that user's own browsers out.
 *
 * A cookie for another username, from another key set, expired or forged is no cookie: the attempt
 * counts as an unknown device's. The cookie proves only that this browser once knew the password;
 * the password is checked as always.
 *
 * @example
 * ```ts
 * const device = await knownDevice(c, username)
 * const user = await verifyLogin(c.env, settings, { username, password, device }, 'invalid_credentials')
 * await rememberDevice(c, user.username, device)
 * ```
 */
import type { Context } from 'hono'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { randomToken } from '../crypto/bytes'
import type { AppBindings } from '../env'
import { gatewayCookieName, setGatewayCookie } from '../http/gateway-cookie'
import { accountName } from '../rate-limit'
import { type KeyRing, loadKeyRing } from '../tokens'
import { readCookieValues } from './cookies'

// `__Host-gw_device` on https (src/http/gateway-cookie.ts).
const DEVICE_COOKIE = 'gw_device'
const DEVICE_TYP = 'gw-device+jwt'
/** A device stays known this long after its last password sign-in (renewed by each one). */
export const DEVICE_COOKIE_SECONDS = 180 * 24 * 3600
// Strict: the cookie only matters on the gateway's own forms and token endpoint, never cross-site.
const DEVICE_COOKIE_OPTIONS = { sameSite: 'Strict', maxAge: DEVICE_COOKIE_SECONDS } as const
// 128 bits: the device's rate-limit key and D1 throttle subject.
const DEVICE_ID_BYTES = 16
const DEVICE_ID = /^[A-Za-z0-9_-]{22}$/

function audienceOf(issuer: string): string {
  return `${issuer}/auth/device`
}

/** Signature with a key of the ring, chosen by `kid` with its pinned algorithm, never the token's. */
function keyFrom(ring: KeyRing) {
  return (header: { kid?: string; alg?: string }) => {
    const key = header.kid === undefined ? undefined : ring.verifiers.get(header.kid)
    if (!key || key.alg !== header.alg) throw new joseErrors.JWKSNoMatchingKey()
    return key.key
  }
}

/**
 * The device id of this request's device cookie when it is valid and names `username` (compared
 * as the throttle compares names: NFC, lowercased); undefined otherwise.
 */
export async function knownDevice(c: Context<AppBindings>, username: string): Promise<string | undefined> {
  const { issuer } = c.var.ctx.config
  const values = readCookieValues(c.req.header('cookie') ?? null, gatewayCookieName(issuer, DEVICE_COOKIE))
  if (values.length !== 1 || !values[0]) return undefined
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  try {
    const { payload } = await jwtVerify(values[0], keyFrom(ring), {
      issuer,
      audience: audienceOf(issuer),
      typ: DEVICE_TYP,
      algorithms: ['ES256', 'EdDSA'],
      requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      maxTokenAge: DEVICE_COOKIE_SECONDS,
    })
    if (payload.sub !== accountName(username) || !DEVICE_ID.test(payload.jti ?? '')) return undefined
    return payload.jti
  } catch {
    // Expired, forged, or signed by a key no longer in the ring: an unknown device.
    return undefined
  }
}

/**
 * Sets (or renews) the device cookie after a successful password sign-in of `username`, keeping
 * `device` (the id it came with, if it was known for this user) so its count carries on.
 */
export async function rememberDevice(
  c: Context<AppBindings>,
  username: string,
  device: string | undefined,
): Promise<void> {
  const { issuer } = c.var.ctx.config
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: DEVICE_TYP })
    .setIssuer(issuer)
    .setAudience(audienceOf(issuer))
    .setSubject(accountName(username))
    .setJti(device ?? randomToken('', DEVICE_ID_BYTES))
    .setIssuedAt()
    .setExpirationTime(`${DEVICE_COOKIE_SECONDS}s`)
    .sign(ring.signer.privateKey)
  setGatewayCookie(c, issuer, DEVICE_COOKIE, jwt, DEVICE_COOKIE_OPTIONS)
}
