/**
 * The first line against floods: Cloudflare's Workers Rate Limiting binding, asked before anything
 * reaches D1. Each binding counts per Cloudflare location and approximately, with no storage round
 * trip, so a refusal here costs no D1 statement and no password derivation. The exact limits stay
 * behind it in D1 (users/throttle.ts: the account lockout, the address window): this layer only
 * keeps a flood from reaching them. See docs/rate-limiting.md.
 *
 * @example
 * ```ts
 * await limitRequest(c.env, { kind: 'email', ip: c.req.header('cf-connecting-ip'), email })
 * ```
 */
import { sha256Hex } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'
import { logEvent } from '../log'
import { RATE_LIMIT_CLASSES, type RateLimitClassName } from './classes'
import { addressBucket } from './client-address'

/**
 * What this layer reads from `env`: the bindings (each optional: a deployment may lack them) and
 * the switch. `c.env` is one.
 */
export type RateLimitEnv = {
  /** "off": no binding is asked (the storm bench's `without_rate_limit` run, or no bindings). */
  RATE_LIMITING?: string
} & { [Binding in (typeof RATE_LIMIT_CLASSES)[RateLimitClassName]['binding']]?: RateLimit }

/** What a request is about to do, with what identifies it; each kind counts in its classes. */
export type RateLimitedAction =
  /**
   * A password checked (login form, password grant, Basic, password change). `device`: the id of a
   * valid device cookie for this username, which counts per device instead of per account and
   * outside the ceiling.
   */
  | { kind: 'password'; ip?: string; username: string; device?: string }
  /** A one-time code checked (second factor; an emailed code): per address and per `subject`. */
  | { kind: 'code'; ip?: string; subject: string }
  /** An account registration (hashes a password: inside the ceiling) or an RFC 7591 client's. */
  | { kind: 'registration'; ip?: string; client?: boolean }
  /** A request that sends mail (reset, sign-in link or code): per address and per recipient. */
  | { kind: 'email'; ip?: string; email?: string }
  /** Any request to the token endpoint (refresh, code exchange...): per address only. */
  | { kind: 'token'; ip?: string }
  /** A passkey sign-in's options (a challenge written) or assertion: per address only. */
  | { kind: 'passkey'; ip?: string }

/** One binding call: the class (its binding) and the key it counts under. */
export type RateLimitCheck = readonly [RateLimitClassName, string]
type Check = RateLimitCheck

const CEILING_KEY = 'all'
// The binding's documented key is a string; names and addresses are bounded before they get here,
// but a key should not carry what a user typed (a password pasted into the username field).
const HASHED_KEY_HEX = 32

async function hashedKey(prefix: string, value: string): Promise<string> {
  return `${prefix}${(await sha256Hex(value)).slice(0, HASHED_KEY_HEX)}`
}

/** The account key of a submitted name: normalized as the D1 throttle's account subject is. */
export function accountName(username: string): string {
  return username.normalize('NFC').toLowerCase()
}

const MAX_NAME_LENGTH = 256

/** The binding calls `action` makes, in order: the narrowest key first, the ceiling last. */
export async function rateLimitChecks(action: RateLimitedAction): Promise<Check[]> {
  const address: Check[] = action.ip ? [['address', addressBucket(action.ip)]] : []
  switch (action.kind) {
    case 'password': {
      if (action.device) return [...address, ['device', action.device]]
      const name = accountName(action.username.slice(0, MAX_NAME_LENGTH))
      return [...address, ['account', await hashedKey('name:', name)], ['ceiling', CEILING_KEY]]
    }
    case 'code':
      return [...address, ['account', await hashedKey('code:', action.subject)]]
    case 'registration': {
      const key = action.ip
        ? `${action.client ? 'client' : 'account'}:${addressBucket(action.ip)}`
        : undefined
      const perAddress: Check[] = key ? [['registration', key]] : []
      return action.client ? perAddress : [...perAddress, ['ceiling', CEILING_KEY]]
    }
    case 'email': {
      const perAddress: Check[] = action.ip ? [['email', `ip:${addressBucket(action.ip)}`]] : []
      if (!action.email) return perAddress
      return [...perAddress, ['email', await hashedKey('to:', action.email.toLowerCase())]]
    }
    case 'token':
      return action.ip ? [['token', addressBucket(action.ip)]] : []
    case 'passkey':
      return address
  }
}

// One log line per isolate and binding, not one per request: a deployment without the bindings
// would otherwise log every login.
const reported = new Set<string>()

function reportOnce(binding: string, event: string, fields: Record<string, unknown> = {}): void {
  if (reported.has(`${event}:${binding}`)) return
  reported.add(`${event}:${binding}`)
  logEvent('warn', event, { binding, ...fields })
}

function refused(name: RateLimitClassName): GatewayError {
  return new GatewayError('rate_limited', 'Too many attempts; try again later.', {
    retryAfter: RATE_LIMIT_CLASSES[name].period,
  })
}

/**
 * Asks each binding `action` counts in, in order, and throws 429 `rate_limited` with
 * `Retry-After` (the binding's period) at the first refusal, so later classes (the global
 * ceiling) do not count a request an earlier one refused. Fails open: a binding missing from env,
 * or one that throws, admits the request (logged once per isolate), since D1's exact reservation
 * still stands behind this layer; failing closed would turn a forgotten wrangler.toml line into
 * an outage of every login.
 */
export async function limitRequest(env: RateLimitEnv, action: RateLimitedAction): Promise<void> {
  if (env.RATE_LIMITING === 'off') return
  for (const [name, key] of await rateLimitChecks(action)) {
    const { binding } = RATE_LIMIT_CLASSES[name]
    const limiter = env[binding]
    if (!limiter) {
      reportOnce(binding, 'rate_limit_binding_missing')
      continue
    }
    let outcome: RateLimitOutcome
    try {
      outcome = await limiter.limit({ key })
    } catch (error) {
      reportOnce(binding, 'rate_limit_binding_failed', {
        cause: error instanceof Error ? error.name : String(error),
      })
      continue
    }
    if (!outcome.success) throw refused(name)
  }
}
