/**
 * The single-use tokens of the email flows (table `email_tokens`, migrations 0018 and 0022). Only SHA-256 of a
 * token is stored. One row per user and purpose: issuing replaces the row, so the previous token of
 * that purpose dies with it. Reading (`peekEmailToken`) never uses a token up: a GET of a link only
 * shows a page, since mail scanners fetch links; `consumeEmailToken` is the one conditional UPDATE
 * that spends it, so two POSTs of one link cannot both win.
 */
import { randomToken, sha256Hex } from '../crypto/bytes'
import { nowSeconds } from '../db/json'

export const EMAIL_TOKEN_PURPOSES = [
  'verify_email',
  'password_reset',
  'sign_in_link',
  'sign_in_code',
  'email_change',
] as const
export type EmailTokenPurpose = (typeof EMAIL_TOKEN_PURPOSES)[number]

/** 32 random bytes (256 bits, base64url) after a prefix that says what the string is. */
const LINK_TOKEN_PREFIX = 'em_'
const LINK_TOKEN = /^em_[A-Za-z0-9_-]{43}$/

export interface EmailTokenRow {
  userId: string
  purpose: EmailTokenPurpose
  /** Where the token was sent (for `email_change`: the pending new address). */
  email: string
  expiresAt: number
  /** A sign-in link: SHA-256 of the asking browser's binding cookie (migration 0022); else null. */
  browserHash: string | null
  /** A sign-in link: where the sign-in continues; else null. */
  returnTo: string | null
}

interface Row {
  user_id: string
  purpose: EmailTokenPurpose
  email: string
  expires_at: number
  browser_hash: string | null
  return_to: string | null
}

const COLUMNS = 'user_id, purpose, email, expires_at, browser_hash, return_to'

function toRow(row: Row): EmailTokenRow {
  return {
    userId: row.user_id,
    purpose: row.purpose,
    email: row.email,
    expiresAt: row.expires_at,
    browserHash: row.browser_hash,
    returnTo: row.return_to,
  }
}

export function isLinkTokenShape(value: unknown): value is string {
  return typeof value === 'string' && LINK_TOKEN.test(value)
}

/** A 6-digit code is hashed with its user: the same code of two users never shares a hash. */
function codeHash(userId: string, code: string): Promise<string> {
  return sha256Hex(`code:${userId}:${code}`)
}

interface IssueInput {
  userId: string
  purpose: EmailTokenPurpose
  email: string
  ttlSeconds: number
  /** A sign-in link only: SHA-256 of the asking browser's binding cookie. */
  browserHash?: string
  /** A sign-in link only: where the sign-in continues (already checked by safeReturnTo). */
  returnTo?: string
}

async function store(db: D1Database, input: IssueInput, hash: string): Promise<void> {
  const now = nowSeconds()
  await db
    .prepare(
      `INSERT INTO email_tokens (user_id, purpose, token_hash, email, created_at, expires_at, used_at, attempts,
         browser_hash, return_to)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8)
       ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = ?3, email = ?4, created_at = ?5,
         expires_at = ?6, used_at = NULL, attempts = 0, browser_hash = ?7, return_to = ?8`,
    )
    .bind(
      input.userId,
      input.purpose,
      hash,
      input.email,
      now,
      now + input.ttlSeconds,
      input.browserHash ?? null,
      input.returnTo ?? null,
    )
    .run()
}

/** Issues a link token for the user and purpose, replacing the live one; returns it (only here). */
export async function issueLinkToken(
  db: D1Database,
  input: IssueInput & { purpose: Exclude<EmailTokenPurpose, 'sign_in_code'> },
): Promise<string> {
  const token = randomToken(LINK_TOKEN_PREFIX)
  await store(db, input, await sha256Hex(token))
  return token
}

/** Issues a 6-digit code for signing in, replacing the live one. */
export async function issueSignInCode(
  db: D1Database,
  input: { userId: string; email: string; ttlSeconds: number },
): Promise<string> {
  const value = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0
  // 2^32 mod 10^6 leaves a bias below 0.03 %: irrelevant against a capped number of guesses.
  const code = String(value % 1_000_000).padStart(6, '0')
  await store(db, { ...input, purpose: 'sign_in_code' }, await codeHash(input.userId, code))
  return code
}

/** The live token's row (unused, unexpired, of this purpose), without using it up. */
export async function peekEmailToken(
  db: D1Database,
  token: string,
  purpose: EmailTokenPurpose,
): Promise<EmailTokenRow | undefined> {
  if (!isLinkTokenShape(token)) return undefined
  const row = await db
    .prepare(
      `SELECT ${COLUMNS} FROM email_tokens
       WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3`,
    )
    .bind(await sha256Hex(token), purpose, nowSeconds())
    .first<Row>()
  return row ? toRow(row) : undefined
}

/** Spends the token: the row when this call won it, undefined when it was used, expired or not one. */
export async function consumeEmailToken(
  db: D1Database,
  token: string,
  purpose: EmailTokenPurpose,
): Promise<EmailTokenRow | undefined> {
  if (!isLinkTokenShape(token)) return undefined
  const now = nowSeconds()
  const row = await db
    .prepare(
      `UPDATE email_tokens SET used_at = ?3
       WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
       RETURNING ${COLUMNS}`,
    )
    .bind(await sha256Hex(token), purpose, now)
    .first<Row>()
  return row ? toRow(row) : undefined
}

/**
 * Checks a sign-in code of the user: spends it when right; a wrong one counts, and the attempt
 * that reaches `maxAttempts` ends the code (one statement each, so concurrent guesses cannot
 * exceed the cap).
 */
export async function consumeSignInCode(
  db: D1Database,
  input: { userId: string; code: string; maxAttempts: number },
): Promise<EmailTokenRow | undefined> {
  const now = nowSeconds()
  const hash = /^\d{6}$/.test(input.code) ? await codeHash(input.userId, input.code) : ''
  const won = await db
    .prepare(
      `UPDATE email_tokens SET used_at = ?3
       WHERE user_id = ?1 AND purpose = 'sign_in_code' AND token_hash = ?2 AND used_at IS NULL
         AND expires_at > ?3 AND attempts < ?4
       RETURNING ${COLUMNS}`,
    )
    .bind(input.userId, hash, now, input.maxAttempts)
    .first<Row>()
  if (won) return toRow(won)
  await db
    .prepare(
      `UPDATE email_tokens SET attempts = attempts + 1,
         used_at = CASE WHEN attempts + 1 >= ?3 THEN ?2 ELSE used_at END
       WHERE user_id = ?1 AND purpose = 'sign_in_code' AND used_at IS NULL`,
    )
    .bind(input.userId, now, input.maxAttempts)
    .run()
  return undefined
}

/** Ends the user's live tokens (all purposes, or the ones named): a password or address change. */
export async function endEmailTokens(
  db: D1Database,
  userId: string,
  purposes: readonly EmailTokenPurpose[] = EMAIL_TOKEN_PURPOSES,
): Promise<void> {
  const list = purposes.map((_, index) => `?${index + 2}`).join(', ')
  await db
    .prepare(`DELETE FROM email_tokens WHERE user_id = ?1 AND purpose IN (${list})`)
    .bind(userId, ...purposes)
    .run()
}

/**
 * The hourly clean-up's statement: rows that can no longer be used, expired or spent. Deleting a
 * spent row changes no answer: an unknown token is refused just as a used one is.
 */
export function deleteDeadEmailTokensStatement(db: D1Database, now: number): D1PreparedStatement {
  return db.prepare('DELETE FROM email_tokens WHERE expires_at <= ?1 OR used_at IS NOT NULL').bind(now)
}
