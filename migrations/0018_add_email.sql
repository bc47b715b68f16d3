-- Email addresses on users and the single-use tokens of the email flows (verify, reset, sign-in
-- link and code, address change). See docs/storage-schema.md and docs/email.md.

-- Normalized on the way in (src/email/address.ts: trimmed, domain lowercased). NULL: no address.
ALTER TABLE users ADD COLUMN email TEXT;
-- 1 once the holder proved they read mail sent to it (a link, an admin, a provider's verified claim).
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
-- One account per address, compared case-insensitively (local parts are case-sensitive in theory,
-- never in practice, and two accounts differing only there would be an impersonation tool).
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email COLLATE NOCASE) WHERE email IS NOT NULL;

-- One live token per purpose per user: the primary key, so a new issue replaces the old row (and
-- with it the old token). Only the SHA-256 of the token is kept (a link token has 256 bits; a
-- 6-digit code is hashed with the user id, and its attempts are capped). `email` is where the
-- token was sent: for `email_change` it is the pending new address, which takes effect only when
-- the link there is confirmed. Rows are deleted on a password change and by the hourly clean-up.
CREATE TABLE IF NOT EXISTS email_tokens (
  user_id TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset', 'sign_in_link', 'sign_in_code', 'email_change')),
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- At most 30 minutes after created_at (links) and 10 minutes (codes): checked on every use.
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, purpose)
);
CREATE INDEX IF NOT EXISTS email_tokens_expires ON email_tokens (expires_at);
