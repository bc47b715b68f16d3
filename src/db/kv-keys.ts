/**
 * Every KV key the gateway writes, in one place (docs/storage-schema.md describes each).
 * KV is an edge cache of D1 here: D1 is the truth, KV answers the hot path.
 */

/** KV rejects an expirationTtl below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60

/** A revoked access token: `revoked:jti:<sha256(jti)>` → "1", until the token would expire anyway. */
export function revokedJtiKey(jtiHash: string): string {
  return `revoked:jti:${jtiHash}`
}

/** Tokens of a subject issued before a time are void: `revoked:sub:<subject>` → not-before (ms). */
export function revokedSubjectKey(subject: string): string {
  return `revoked:sub:${subject}`
}

/** An API key's cached record: `apikey:<id>` → JSON. */
export function apiKeyKey(id: string): string {
  return `apikey:${id}`
}

/** A browser session's cached record: `session:<sha256(cookie value)>` → JSON. */
export function sessionKey(tokenHash: string): string {
  return `session:${tokenHash}`
}

/** An external issuer's JWKS: `jwks:<issuer name>` → JSON. */
export function jwksKey(issuerName: string): string {
  return `jwks:${issuerName}`
}

/** A fetched Client ID Metadata Document: `cimd:<id>` (oauth/client-metadata-store.ts) → JSON. */
export function clientMetadataKey(id: string): string {
  return `cimd:${id}`
}

/** A copy of a sent mail in the local dev mailbox: `devmail:<UUIDv7>` (src/email/dev-mailbox.ts) → JSON. */
export function devMailKey(id: string): string {
  return `devmail:${id}`
}

export const DEV_MAIL_PREFIX = 'devmail:'

/** Seconds to keep a KV entry: never below KV's minimum. */
export function kvTtl(seconds: number): number {
  return Math.max(KV_MIN_TTL_SECONDS, Math.ceil(seconds))
}
