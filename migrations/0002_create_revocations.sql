-- The revocation truth. KV holds an edge copy (see docs/storage-schema.md); D1 decides strict routes.
CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti_hash TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expires ON revoked_tokens (expires_at);

-- Per subject (user id or client id): access tokens issued before this instant (ms) are void.
CREATE TABLE IF NOT EXISTS subject_revocations (
  subject TEXT PRIMARY KEY,
  not_before_ms INTEGER NOT NULL
);
