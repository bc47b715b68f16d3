/**
 * The limit classes of the first line against floods: one Workers Rate Limiting binding each
 * (`[[ratelimits]]` in wrangler.toml). Production takes only a key per call; the limit and the
 * period are the binding's own, fixed in wrangler.toml, so a class that needs another limit needs
 * another binding. Imports nothing: check-config and the docs' test read this table too.
 *
 * `period` is what `Retry-After` says after a refusal (the binding does not tell its period), so it
 * must match wrangler.toml; `npm run check-config` warns when it does not. `limit` is the shipped
 * value, for the docs and check-config; the code never compares against it.
 */
export interface RateLimitClass {
  /** The binding's name in wrangler.toml and `env`. */
  binding: string
  /** Seconds: 10 or 60, the only periods the binding has. */
  period: 10 | 60
  /** Requests per key per period, as wrangler.toml ships it. */
  limit: number
  /** What one call counts, under which key. */
  counts: string
}

export const RATE_LIMIT_CLASSES = {
  address: {
    binding: 'RATE_LIMIT_ADDRESS',
    period: 10,
    limit: 30,
    counts: 'credential attempts (password, Basic, second-factor code) per client address (IPv6: its /64)',
  },
  account: {
    binding: 'RATE_LIMIT_ACCOUNT',
    period: 10,
    limit: 20,
    counts:
      'password attempts per submitted account name (hashed) from devices without a device cookie; code attempts per user',
  },
  ceiling: {
    binding: 'RATE_LIMIT_PASSWORD_CEILING',
    period: 10,
    limit: 100,
    counts:
      'password evaluations (logins without a device cookie, registrations) in this location, under one key',
  },
  device: {
    binding: 'RATE_LIMIT_DEVICE',
    period: 60,
    limit: 10,
    counts: 'password attempts that carry a valid device cookie, per device',
  },
  token: {
    binding: 'RATE_LIMIT_TOKEN',
    period: 10,
    limit: 100,
    counts:
      'requests to /auth/token (every grant: code, refresh, client credentials, password) per client address',
  },
  registration: {
    binding: 'RATE_LIMIT_REGISTRATION',
    period: 60,
    // Above what D1 admits from one address in a minute (SETTINGS.throttle, dynamic_clients), so
    // D1's limits decide and this only absorbs a faster flood.
    limit: 30,
    counts: 'account and client (RFC 7591) registrations per client address',
  },
  email: {
    binding: 'RATE_LIMIT_EMAIL',
    period: 60,
    limit: 5,
    counts: 'requests that send mail, per client address and per submitted email address (hashed)',
  },
} as const satisfies Record<string, RateLimitClass>

export type RateLimitClassName = keyof typeof RATE_LIMIT_CLASSES
