import { nowSeconds, parseStringList } from '../db/json'

export interface User {
  id: string
  username: string
  passwordHash: string
  roles: string[]
  disabled: boolean
  createdAt: number
  updatedAt: number
  passwordChangedAt: number
  /**
   * A password or provider sign-in must be followed by a second factor (0015); such a user gets no
   * password-grant tokens and cannot pass Basic.
   */
  mfaEnabled: boolean
  /** Normalized (src/users/email-address.ts); null: the user has none (0018). */
  email: string | null
  emailVerified: boolean
}

interface UserRow {
  id: string
  username: string
  password_hash: string
  roles: string
  disabled: number
  created_at: number
  updated_at: number
  password_changed_at: number
  mfa_enabled?: number
  email?: string | null
  email_verified?: number
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    roles: parseStringList(row.roles),
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
    mfaEnabled: row.mfa_enabled === 1,
    email: row.email ?? null,
    emailVerified: row.email_verified === 1,
  }
}

export async function findUserByUsername(db: D1Database, username: string): Promise<User | undefined> {
  const row = await db.prepare('SELECT * FROM users WHERE username = ?1').bind(username).first<UserRow>()
  return row ? toUser(row) : undefined
}

export async function findUserById(db: D1Database, id: string): Promise<User | undefined> {
  const row = await db.prepare('SELECT * FROM users WHERE id = ?1').bind(id).first<UserRow>()
  return row ? toUser(row) : undefined
}

/**
 * Inserts a user; returns undefined when the username is taken (case-insensitively). An `email`
 * (normalized) is stored unverified in the same statement when nobody holds it, so an account is
 * never left half-written between its row and its address; the returned user tells which happened.
 */
export async function insertUser(
  db: D1Database,
  input: { username: string; passwordHash: string; roles: string[]; email?: string },
): Promise<User | undefined> {
  const now = nowSeconds()
  const row = await db
    .prepare(
      `INSERT INTO users (id, username, password_hash, roles, disabled, created_at, updated_at, password_changed_at,
         email, email_verified)
       VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5, ?5,
         CASE WHEN ?6 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?6 COLLATE NOCASE) THEN ?6 END, 0)
       ON CONFLICT(username) DO NOTHING RETURNING *`,
    )
    .bind(
      crypto.randomUUID(),
      input.username,
      input.passwordHash,
      JSON.stringify(input.roles),
      now,
      input.email ?? null,
    )
    .first<UserRow>()
  return row ? toUser(row) : undefined
}

/**
 * Replaces the password hash. `changed` marks a real password change (sessions end); a rehash of
 * the same password to newer parameters keeps `password_changed_at`.
 */
export async function updatePasswordHash(
  db: D1Database,
  userId: string,
  hash: string,
  changed: boolean,
): Promise<void> {
  const now = nowSeconds()
  const sql = changed
    ? 'UPDATE users SET password_hash = ?2, updated_at = ?3, password_changed_at = ?3 WHERE id = ?1'
    : 'UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1'
  await db.prepare(sql).bind(userId, hash, now).run()
}

export async function setUserRoles(
  db: D1Database,
  username: string,
  roles: string[],
): Promise<User | undefined> {
  const row = await db
    .prepare('UPDATE users SET roles = ?2, updated_at = ?3 WHERE username = ?1 RETURNING *')
    .bind(username, JSON.stringify(roles), nowSeconds())
    .first<UserRow>()
  return row ? toUser(row) : undefined
}

export async function setUserDisabled(
  db: D1Database,
  username: string,
  disabled: boolean,
): Promise<User | undefined> {
  const row = await db
    .prepare('UPDATE users SET disabled = ?2, updated_at = ?3 WHERE username = ?1 RETURNING *')
    .bind(username, disabled ? 1 : 0, nowSeconds())
    .first<UserRow>()
  return row ? toUser(row) : undefined
}

/** Users ordered by username (case-insensitively), after `after`, optionally containing `q`. */
export async function listUsers(
  db: D1Database,
  options: { q?: string; after?: string; limit: number },
): Promise<User[]> {
  // LIKE's wildcards in the search text are matched literally.
  const pattern = options.q === undefined ? null : `%${options.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const { results } = await db
    .prepare(
      `SELECT * FROM users WHERE (?1 IS NULL OR username LIKE ?1 ESCAPE '\\')
         AND (?2 IS NULL OR username > ?2 COLLATE NOCASE)
       ORDER BY username COLLATE NOCASE LIMIT ?3`,
    )
    .bind(pattern, options.after ?? null, options.limit)
    .all<UserRow>()
  return results.map(toUser)
}

/** Updates roles and/or the disabled flag by id; the row after the change, undefined if none. */
export async function updateUser(
  db: D1Database,
  id: string,
  changes: { roles?: string[]; disabled?: boolean },
): Promise<User | undefined> {
  const row = await db
    .prepare(
      `UPDATE users SET roles = COALESCE(?2, roles), disabled = COALESCE(?3, disabled), updated_at = ?4
       WHERE id = ?1 RETURNING *`,
    )
    .bind(
      id,
      changes.roles === undefined ? null : JSON.stringify(changes.roles),
      changes.disabled === undefined ? null : changes.disabled ? 1 : 0,
      nowSeconds(),
    )
    .first<UserRow>()
  return row ? toUser(row) : undefined
}

export async function deleteUserRow(db: D1Database, id: string): Promise<boolean> {
  const row = await db.prepare('DELETE FROM users WHERE id = ?1 RETURNING id').bind(id).first()
  return row !== null
}

export async function findUserByEmail(db: D1Database, email: string): Promise<User | undefined> {
  const row = await db
    .prepare('SELECT * FROM users WHERE email = ?1 COLLATE NOCASE')
    .bind(email)
    .first<UserRow>()
  return row ? toUser(row) : undefined
}

/**
 * Gives the user `email` (already normalized). A verified address wins over an unverified holder,
 * whose claim is dropped; an address another user holds verified is not taken: false. An
 * unverified address is set only when nobody holds it.
 */
export async function setUserEmail(
  db: D1Database,
  userId: string,
  email: string | null,
  verified: boolean,
): Promise<boolean> {
  const now = nowSeconds()
  const statements: D1PreparedStatement[] = []
  if (email !== null && verified) {
    statements.push(
      db
        .prepare(
          `UPDATE users SET email = NULL, email_verified = 0, updated_at = ?3
           WHERE email = ?1 COLLATE NOCASE AND email_verified = 0 AND id <> ?2`,
        )
        .bind(email, userId, now),
    )
  }
  statements.push(
    db
      .prepare(
        `UPDATE users SET email = ?2, email_verified = ?3, updated_at = ?4 WHERE id = ?1
           AND (?2 IS NULL OR NOT EXISTS (SELECT 1 FROM users WHERE email = ?2 COLLATE NOCASE AND id <> ?1))
         RETURNING id`,
      )
      .bind(userId, email, verified && email !== null ? 1 : 0, now),
  )
  const results = await db.batch<{ id: string }>(statements)
  return (results.at(-1)?.results.length ?? 0) > 0
}

/** Marks the user's address verified if it is still `email` (a link confirms what it was sent to). */
export async function markEmailVerified(db: D1Database, userId: string, email: string): Promise<boolean> {
  const row = await db
    .prepare(
      'UPDATE users SET email_verified = 1, updated_at = ?3 WHERE id = ?1 AND email = ?2 COLLATE NOCASE RETURNING id',
    )
    .bind(userId, email, nowSeconds())
    .first()
  return row !== null
}
