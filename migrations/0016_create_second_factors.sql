-- Second factors of a password (or provider) sign-in: TOTP and its recovery codes (issue 22,
-- item 2). See docs/storage-schema.md and docs/passkeys-and-mfa.md.

-- One authenticator app per user, written only once its first code was confirmed (the secret of an
-- enrolment in progress lives sealed in the setup form, not here).
-- secret: the 20-byte RFC 6238 key, sealed under DATA_KEYS (src/crypto/data-seal.ts) with the
--   associated data `totp:<user_id>`, so a value copied to another user's row does not open.
-- last_used_step: the replay guard. A code is accepted only for a time step greater than this one,
--   and the step is recorded with a conditional UPDATE, so two requests with one code cannot both
--   win (RFC 6238 §5.2).
CREATE TABLE IF NOT EXISTS totp_credentials (
  user_id TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER NOT NULL,
  last_used_step INTEGER NOT NULL,
  last_used_at INTEGER
);

-- Ten single-use codes shown once when TOTP is confirmed (or regenerated); only their SHA-256 is
-- kept. A code is spent by a conditional UPDATE ... WHERE used_at IS NULL RETURNING.
CREATE TABLE IF NOT EXISTS recovery_codes (
  user_id TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  used_at INTEGER,
  PRIMARY KEY (user_id, code_hash)
);
